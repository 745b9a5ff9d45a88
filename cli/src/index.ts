export { Supervisor, restartDelayMs, type SupervisorOptions } from './supervisor.js';
export { SERVICES, DEFAULT_PORTS, type ServiceName } from './services.js';
