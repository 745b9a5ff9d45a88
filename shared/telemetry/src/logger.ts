import { trace } from '@opentelemetry/api';
import { redactUrls } from '@onpush/contracts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

function errorFields(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const type = (value as { type?: unknown }).type;
  return {
    name: value.name,
    message: value.message,
    ...(typeof type === 'string' ? { type } : {}),
  };
}

/**
 * JSON lines on stdout, one per record, with the active span's trace_id/span_id when there is
 * one. Never throws into the caller: a value that cannot be serialised is dropped from the line.
 */
export function createLogger(
  base: Fields,
  {
    level = 'info',
    write = (line: string) => process.stdout.write(line),
  }: { level?: Level; write?: (line: string) => void } = {},
): Logger {
  const emit = (lvl: Level, msg: string, fields?: Fields): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const span = trace.getActiveSpan()?.spanContext();
    const record: Fields = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (span && span.traceId !== '00000000000000000000000000000000') {
      record['trace_id'] = span.traceId;
      record['span_id'] = span.spanId;
    }
    for (const [key, value] of Object.entries(fields ?? {})) record[key] = errorFields(value);
    // A URL's credentials (`nats://user:password@host`) never reach a log line.
    try {
      write(`${redactUrls(JSON.stringify(record))}\n`);
    } catch {
      write(`${redactUrls(JSON.stringify({ time: record['time'], level: lvl, msg, ...base }))}\n`);
    }
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, { level, write }),
  };
}
