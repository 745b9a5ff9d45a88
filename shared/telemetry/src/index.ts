export { createLogger, type Logger, type Level, type Fields } from './logger.js';
export {
  createMetrics,
  LATENCY_BUCKETS,
  Counter,
  Gauge,
  Histogram,
  type Metrics,
  type Registry,
} from './metrics.js';
