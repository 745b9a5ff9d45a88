import { Counter, type Registry } from '@onpush/telemetry';

/** The parser's own counters, beside the stage metrics every service has. */
export function createParserMetrics(registry: Registry) {
  return {
    results: new Counter({
      name: 'onpush_parser_results_total',
      help: 'Pushes published, deliveries ignored and malformed batch entries rejected, by source',
      labelNames: ['source', 'result'] as const,
      registers: [registry],
    }),
    droppedDigests: new Counter({
      name: 'onpush_parser_dropped_digests_total',
      help: 'Malformed digests dropped from pushes that still name a tag, by source',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
  };
}

export type ParserMetrics = ReturnType<typeof createParserMetrics>;
