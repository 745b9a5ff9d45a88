// Span helpers. Telemetry never throws into the business path: every call into the
// OpenTelemetry API here is guarded, and a span that cannot be made leaves the work running
// without one.
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanKind,
  type TextMapGetter,
  type TextMapSetter,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from './semconv.js';

export type Headers = Record<string, string>;

const getter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const exact = carrier[key];
    if (exact !== undefined) return exact;
    const wanted = key.toLowerCase();
    for (const [name, value] of Object.entries(carrier))
      if (name.toLowerCase() === wanted) return value;
    return undefined;
  },
};

const setter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => {
    const wanted = key.toLowerCase();
    for (const name of Object.keys(carrier))
      if (name.toLowerCase() === wanted) delete carrier[name];
    carrier[key] = value;
  },
};

function guarded<T>(fallback: T, work: () => T): T {
  try {
    return work();
  } catch {
    return fallback;
  }
}

/** The trace context carried by `headers` (W3C traceparent/tracestate), on top of `base`. */
export function extractContext(headers: Headers, base: Context = ROOT_CONTEXT): Context {
  return guarded(base, () => propagation.extract(base, headers, getter));
}

/** True when `ctx` holds a valid span context (e.g. one extracted from a traceparent). */
export function carriesTrace(ctx: Context): boolean {
  return guarded(false, () => {
    const spanContext = trace.getSpanContext(ctx);
    return spanContext !== undefined && isSpanContextValid(spanContext);
  });
}

/** A link to the span context `ctx` holds, or none. */
export function linksTo(ctx: Context): Link[] {
  return guarded([], () => {
    const spanContext = trace.getSpanContext(ctx);
    return spanContext !== undefined && isSpanContextValid(spanContext)
      ? [{ context: spanContext }]
      : [];
  });
}

/** A copy of `headers` with the trace context of `ctx` (the active one by default) written in. */
export function injectContext(headers: Headers, ctx: Context = context.active()): Headers {
  const copy = { ...headers };
  guarded(undefined, () => propagation.inject(ctx, copy, setter));
  return copy;
}

/** onpush's tracer (the global provider's: a no-op one when tracing is not started). */
export function tracer(): Tracer {
  return trace.getTracer('onpush');
}

/** The low-cardinality type of a failure: its `type`, else its class name. */
export function errorTypeOf(error: unknown): string {
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type !== '') return type;
  return error instanceof Error && error.name !== 'Error' ? error.name : ERROR_TYPE_VALUE_OTHER;
}

/** `error.type` (the error's own `type`) and status ERROR on `span`. */
export function markError(span: Span, error: unknown, type = errorTypeOf(error)): void {
  guarded(undefined, () => {
    const message = error instanceof Error ? error.message : String(error);
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: message.slice(0, 500) });
  });
}

/** Sets attributes on the span of the work in progress, if there is one. */
export function annotate(attributes: Attributes): void {
  guarded(undefined, () => trace.getActiveSpan()?.setAttributes(attributes));
}

export interface SpanSpec {
  name: string;
  kind: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  startTime?: TimeInput;
  /** The parent context; the active one by default. */
  parent?: Context;
  /** A new trace, whatever the parent. */
  root?: boolean;
}

/**
 * Runs `work` inside a new span: the span is active while `work` runs (so logs and child spans
 * see it), ends when it settles, and records a rejection as an error before passing it on.
 */
export async function inSpan<T>(spec: SpanSpec, work: (span: Span) => Promise<T>): Promise<T> {
  const parent = spec.parent ?? context.active();
  const span = guarded(undefined, () =>
    tracer().startSpan(
      spec.name,
      {
        kind: spec.kind,
        ...(spec.attributes ? { attributes: spec.attributes } : {}),
        ...(spec.links ? { links: spec.links } : {}),
        ...(spec.startTime !== undefined ? { startTime: spec.startTime } : {}),
        ...(spec.root ? { root: true } : {}),
      },
      parent,
    ),
  );
  if (span === undefined) return work(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    markError(span, error);
    throw error;
  } finally {
    guarded(undefined, () => span.end());
  }
}

/** A span of work already done, recorded with its own start and end (a rollout, a wait). */
export interface RecordedSpan extends SpanSpec {
  startTime: TimeInput;
  endTime: TimeInput;
  /** When set, the work failed: `error.type` and status ERROR with this message. */
  failed?: { type: string; message: string };
}

/**
 * Records work that was not a call of this process — a rollout followed through a watch, a wave
 * waited for across deliveries and restarts — as a span from `startTime` to `endTime`.
 */
export function recordSpan(spec: RecordedSpan): void {
  guarded(undefined, () => {
    const span = tracer().startSpan(
      spec.name,
      {
        kind: spec.kind,
        startTime: spec.startTime,
        ...(spec.attributes ? { attributes: spec.attributes } : {}),
        ...(spec.links ? { links: spec.links } : {}),
      },
      spec.parent ?? context.active(),
    );
    if (spec.failed) {
      span.setAttribute(ATTR_ERROR_TYPE, spec.failed.type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: spec.failed.message.slice(0, 500) });
    }
    span.end(spec.endTime);
  });
}

/** The context a W3C `traceparent` names (no trace when it is absent or malformed). */
export function contextOf(traceparent: string | undefined): Context {
  return traceparent === undefined ? ROOT_CONTEXT : extractContext({ traceparent });
}

/** The `traceparent` of the active span, to continue its trace later; undefined without one. */
export function activeTraceparent(): string | undefined {
  return injectContext({})['traceparent'];
}

/** The active trace context, to run later work in it (e.g. work batched across deliveries). */
export function captureContext(): Context {
  return context.active();
}

/** Runs `fn` inside `ctx` (or the current context when none was captured). */
export function runInContext<T>(ctx: Context | undefined, fn: () => T): T {
  return ctx === undefined ? fn() : context.with(ctx, fn);
}
