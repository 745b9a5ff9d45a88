# One image for every onpush service: `docker run onpush <service>` (ingest, parser, resolver,
# restarter, dlq-manager). Multi-stage: build with dev dependencies, ship production ones only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY shared shared
COPY services services
COPY cli cli
RUN npm ci --no-audit --no-fund && npx tsc --build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
ENTRYPOINT ["node", "cli/dist/main.js", "run"]
