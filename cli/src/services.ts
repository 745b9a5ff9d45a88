import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVICES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Default health/metrics ports when several services share one machine. */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  ingest: 8081,
  parser: 8082,
  resolver: 8083,
  restarter: 8084,
  'dlq-manager': 8085,
};

export function isService(name: string | undefined): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name ?? '');
}

/** The compiled entry of a service: services/<name>/dist/main.js beside this CLI. */
export function serviceMain(name: ServiceName): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const main = join(root, 'services', name, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: build first (npx tsc --build)`);
  return main;
}

/** `onpush run <service>`: runs one service in this process, as Kubernetes does. */
export async function runOne(name: ServiceName): Promise<void> {
  await import(serviceMain(name));
}
