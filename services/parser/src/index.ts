export { createHandler, deliveryOf, type HandlerOptions } from './handler.js';
export { ParseError, type ParseErrorType } from './errors.js';
export { createParserMetrics, type ParserMetrics } from './metrics.js';
export {
  FORMATS,
  MAX_BATCH,
  type Delivery,
  type Format,
  type FormatResult,
  type Push,
} from './formats/index.js';
export { followFleet, type FleetView } from './fleet-gate/follow.js';
export { Settlements, type Settlement } from './fleet-gate/settlements.js';
