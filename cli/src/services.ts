import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, type ServiceName } from '@onpush/console';

// The services and their default local ports: one list, shared with `onpush status` and the console.
export { SERVICES, DEFAULT_PORTS, type ServiceName } from '@onpush/console';

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
