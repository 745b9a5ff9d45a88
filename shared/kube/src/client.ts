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
