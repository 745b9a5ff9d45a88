// The console's variables, for a service's schema (the dlq-manager's) to extend; `onpush console`
// reads the same ones.
import { z } from 'zod';
import { int, url } from '@onpush/config';

/** `{traceId}` in a URL: where a push's trace opens (Jaeger: http://jaeger:16686/trace/{traceId}). */
export const traceUrl = () =>
  url(['http', 'https']).refine((value) => value.includes('{traceId}'), {
    error: 'must contain {traceId}, e.g. http://jaeger:16686/trace/{traceId}',
  });

export const consoleFields = {
  /** A push's trace link, `{traceId}` replaced; unset: no links. */
  CONSOLE_TRACE_URL: traceUrl().optional(),
  /** Outcomes already stored that the console reads at start (its history). */
  CONSOLE_HISTORY: int({ min: 0, max: 100_000 }).default(5_000),
  /** Pushes the console keeps in memory (the newest). */
  CONSOLE_PUSHES: int({ min: 10, max: 10_000 }).default(1_000),
};

export interface ConsoleConfig {
  readonly CONSOLE_TRACE_URL?: string | undefined;
  readonly CONSOLE_HISTORY: number;
  readonly CONSOLE_PUSHES: number;
}

/** A trace link for `traceId`, when a trace URL is configured. */
export function traceLink(template: string | undefined, traceId: string | undefined) {
  return template === undefined || traceId === undefined
    ? undefined
    : template.replaceAll('{traceId}', traceId);
}

/** The console's variables alone (`onpush console`). */
export const consoleSchema = z.object(consoleFields);
