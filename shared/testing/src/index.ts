export { startSandbox, useSandbox } from './harness.js';
export { eventually } from './wait.js';
export { setupPidRegistry } from './global-setup.js';
export { MemoryCasStore } from './memory-cas.js';
