// Images the end-to-end tests push: the repository and a digest per number. The cluster side
// (Deployments, the restarter's identity) is in ../support/kube.ts.
export const REPO = 'europe-west1-docker.pkg.dev/p/r';
export const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
