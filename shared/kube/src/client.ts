import { AppsV1Api, CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';

/** The API clients a service needs, from one kubeconfig. */
export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  watch: Watch;
}

/**
 * A kubeconfig from an explicit file, else the standard places: KUBECONFIG, ~/.kube/config,
 * or the in-cluster ServiceAccount (how the services run on Kubernetes).
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  if (path) config.loadFromFile(path);
  else config.loadFromDefault();
  return config;
}

export function kubeClients(config: KubeConfig = loadKubeConfig()): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    watch: new Watch(config),
  };
}

/** The clients of the kubeconfig at `path`, else of the standard places (see loadKubeConfig). */
export function kubeClientsFrom(path?: string): KubeClients {
  return kubeClients(loadKubeConfig(path));
}

/**
 * Starts a watch of a collection (`path`), calling `onEvent` per event and `onDone` once it ends
 * (with the error, if any: a refused watch carries `statusCode`). Resolves with its abort handle.
 */
export type WatchStart = (
  path: string,
  params: Record<string, string | number | boolean>,
  onEvent: (type: string, object: unknown) => void,
  onDone: (error: unknown) => void,
) => Promise<{ abort(): void }>;

/** client-node's Watch as a WatchStart. */
export function watchStart(config: KubeConfig): WatchStart {
  const watch = new Watch(config);
  return (path, params, onEvent, onDone) =>
    watch.watch(path, params, (type, object) => onEvent(type, object as unknown), onDone);
}
