export { kubeClients, loadKubeConfig, type KubeClients } from './client.js';
export { ANNOTATIONS, LABELS, restartPatch, type RestartMark } from './restart.js';
export { kubeHttp, type KubeHttp, type KubeResponse } from './http.js';
export { KubeApiError, isRetryableStatus, parseRetryAfter, toKubeApiError } from './errors.js';
export { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
export type { KubeConfig, V1Deployment } from '@kubernetes/client-node';
