# One image for every onpush service: its entrypoint is the `onpush` command, so
#   docker build -t onpush .
#   docker run --read-only --tmpfs /tmp -e NATS_URL=nats://nats:4222 onpush run parser
# runs a service by name (ingest, parser, resolver, restarter, dlq-manager), and `onpush provision`
# or `onpush dlq ls` run the same way. Each service serves /healthz, /readyz and /metrics on PORT
# (8080 in the image). Nothing is written outside /tmp: a read-only root filesystem works.
ARG NODE_IMAGE=node:24.21.0-alpine

# Build with every dependency; then install the production dependencies of the CLI and the
# services only (not the test harness's), keep the compiled dist/ without sources, and drop the
# workspaces only tests and the benchmark use (the test harness, the bench): the image holds no
# file a test needs.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund \
 && npx tsc --build \
 && node shared/console/build.mjs \
 && npm ci --omit=dev --workspace=cli --workspace=services --ignore-scripts --no-audit --no-fund \
 && find . -name node_modules -prune -o \( -name src -o -name '*.tsbuildinfo' \) -prune -exec rm -rf {} + \
 && rm -rf shared/testing bench node_modules/@onpush/testing node_modules/@onpush/bench

FROM ${NODE_IMAGE}
# npm, npx, corepack and yarn are build tools: not shipped.
# /credentials: where docker-compose's `credentials` service writes the NATS identities (a named
# volume takes this directory's owner, the service's user).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && mkdir /credentials && chown 1000:1000 /credentials
# The V8 heap is sized from the container's memory limit (cgroup), leaving room for buffers,
# sockets and native memory: without it Node sizes the heap to the whole limit, and the kernel's
# OOM killer, not the garbage collector, decides when memory runs out.
ENV NODE_ENV=production PORT=8080 NODE_OPTIONS=--max-old-space-size-percentage=60
WORKDIR /app
# Owned by root, read-only for the service's user.
COPY --from=build /app ./
# The base image's `node` user, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "cli/dist/main.js"]
CMD ["help"]
