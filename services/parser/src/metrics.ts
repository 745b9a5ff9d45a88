import { counter, type Registry } from '@onpush/telemetry';

/** The parser's own counters, beside the stage metrics every service has. */
export function createParserMetrics(registry: Registry) {
  return {
    results: counter(
      registry,
      'onpush_parser_results_total',
      'Pushes published, deliveries ignored and malformed batch entries rejected, by source',
      ['source', 'result'],
    ),
    droppedDigests: counter(
      registry,
      'onpush_parser_dropped_digests_total',
      'Malformed digests dropped from pushes that still name a tag, by source',
      ['source'],
    ),
  };
}

export type ParserMetrics = ReturnType<typeof createParserMetrics>;
