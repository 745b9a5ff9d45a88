// Reading request bodies within bounds. What ingest holds in memory is the bodies it buffered
// until JetStream stored them, so those are capped across requests: at most MAX_BUFFERED_BYTES
// at once, at most MAX_CONCURRENT_BODIES being read at once. A request that finds no room waits
// briefly (BODY_QUEUE_TIMEOUT), then is answered 503 with Retry-After. A body refused (too large,
// no room) is read to its end and dropped before the answer, within HTTP_DRAIN_BYTES and
// HTTP_DRAIN_TIMEOUT, so the sender reads its answer instead of a connection reset.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '@onpush/service';

export interface BodyLimits {
  /** Bytes of request bodies buffered at once, across requests (MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
  /** Request bodies being read at once (MAX_CONCURRENT_BODIES). */
  maxConcurrentReads: number;
  /** How long a request may wait for room before it is answered 503 (BODY_QUEUE_TIMEOUT). */
  queueMs: number;
  /** Bytes of a refused body read and dropped before the answer (HTTP_DRAIN_BYTES). */
  drainBytes: number;
  /** How long a refused body is read before the answer (HTTP_DRAIN_TIMEOUT). */
  drainMs: number;
}

/** Room for one more request, or a 503 when none came within the wait. */
type Waiter = () => void;

/**
 * What is buffered and read at once, across requests. `reading` and `buffered` are what the
 * metrics show; a lease gives back what it took.
 */
export class BodyBudget {
  private buffered = 0;
  private readers = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(readonly limits: BodyLimits) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  get reading(): number {
    return this.readers;
  }

  /** Takes a read slot and `bytes` at once, waiting at most `queueMs` for them. */
  async take(bytes: number, wait = this.limits.queueMs): Promise<boolean> {
    const fits = () =>
      this.readers < this.limits.maxConcurrentReads &&
      this.buffered + bytes <= this.limits.maxBufferedBytes;
    if (!(await this.until(fits, wait))) return false;
    this.readers += 1;
    this.buffered += bytes;
    return true;
  }

  /** Takes `bytes` more for a body being read, waiting at most `queueMs`. */
  async grow(bytes: number, wait = this.limits.queueMs): Promise<boolean> {
    const fits = () => this.buffered + bytes <= this.limits.maxBufferedBytes;
    if (!(await this.until(fits, wait))) return false;
    this.buffered += bytes;
    return true;
  }

  /** Gives back `bytes` and, when `reader`, the read slot. */
  give(bytes: number, reader: boolean): void {
    this.buffered -= bytes;
    if (reader) this.readers -= 1;
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Gives back only the read slot (the body is read; its bytes stay taken until handled). */
  readDone(): void {
    this.readers -= 1;
    for (const waiter of [...this.waiters]) waiter();
  }

  private until(fits: () => boolean, ms: number): Promise<boolean> {
    if (fits()) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = () => {
        if (!fits()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(ok);
      };
      this.waiters.add(waiter);
    });
  }
}

/** Why a body was not taken, and how to answer. */
export type BodyRefusal =
  | { kind: 'too_large'; limit: number; what: string }
  | { kind: 'busy'; retryAfterS: number }
  | { kind: 'incomplete' };

/** A body read whole, and the function that gives its bytes back once it is handled. */
export interface BodyTaken {
  body: Buffer;
  done: () => void;
}

export type BodyRead = BodyTaken | { refused: BodyRefusal };

/**
 * Reads the rest of `req` and drops it, at most `limits.drainBytes` bytes and `limits.drainMs`
 * milliseconds: true when the body ended within them (the connection can close cleanly).
 */
export function drain(
  req: IncomingMessage,
  limits: Pick<BodyLimits, 'drainBytes' | 'drainMs'>,
): Promise<boolean> {
  if (req.readableEnded || req.complete) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limits.drainBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onGone = () => finish(false);
    const timer = setTimeout(() => finish(false), limits.drainMs);
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      if (!ended) req.pause();
      resolve(ended);
    };
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
    req.resume();
  });
}

interface ReadState {
  chunks: Buffer[];
  size: number;
  /** What the budget holds for this request. */
  taken: number;
}

/** Collects the body, taking budget as it grows past what was taken; undefined: no room. */
function collect(
  req: IncomingMessage,
  limit: number,
  budget: BodyBudget,
  state: ReadState,
): Promise<BodyRefusal | undefined> {
  return new Promise((resolve) => {
    let refusal: BodyRefusal | undefined;
    let pending = Promise.resolve();
    const onData = (chunk: Buffer) => {
      if (refusal !== undefined) return; // reading on only to drain
      state.size += chunk.length;
      if (state.size > limit) {
        refusal = { kind: 'too_large', limit, what: '' };
        state.chunks = [];
        return;
      }
      state.chunks.push(chunk);
      if (state.size <= state.taken) return;
      // Chunked (or under-declared) body: take more budget, holding the stream meanwhile.
      const more = Math.min(limit, Math.max(state.size, state.taken * 2, 64 * 1024)) - state.taken;
      req.pause();
      pending = pending.then(async () => {
        if (await budget.grow(more)) state.taken += more;
        else {
          refusal = { kind: 'busy', retryAfterS: 1 };
          state.chunks = [];
        }
        req.resume();
      });
    };
    const onEnd = () => void pending.then(() => finish(refusal));
    const onGone = () => finish({ kind: 'incomplete' });
    // Closed before the whole body came: the sender went away (or the request timed out).
    const onClose = () => {
      if (!req.complete) onGone();
    };
    const finish = (result: BodyRefusal | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onClose);
      resolve(result);
    };
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onClose);
  });
}

/**
 * The whole body of `req` when it is at most `limit` bytes and the budget has room for it; or
 * why not. The limit is also the budget's size: a body larger than everything ingest may buffer
 * could never be taken. A refused body has been drained (bounded) before this resolves, so the
 * answer can be sent at once. The caller calls `done()` once it no longer holds the body.
 */
export async function readBody(
  req: IncomingMessage,
  endpointLimit: { bytes: number; what: string },
  budget: BodyBudget,
): Promise<BodyRead> {
  const limits = budget.limits;
  const cap =
    limits.maxBufferedBytes < endpointLimit.bytes
      ? { bytes: limits.maxBufferedBytes, what: 'MAX_BUFFERED_BYTES, what ingest buffers at once' }
      : endpointLimit;
  const refuse = async (refused: BodyRefusal): Promise<BodyRead> => {
    await drain(req, limits);
    return { refused };
  };
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > cap.bytes) return refuse({ kind: 'too_large', limit: cap.bytes, what: cap.what });
  const first = Number.isFinite(declared) ? declared : Math.min(cap.bytes, 64 * 1024);
  if (!(await budget.take(first))) return refuse({ kind: 'busy', retryAfterS: 1 });
  const state: ReadState = { chunks: [], size: 0, taken: first };
  const refusal = await collect(req, cap.bytes, budget, state);
  budget.readDone();
  if (refusal !== undefined) {
    budget.give(state.taken, false);
    if (refusal.kind === 'incomplete') return { refused: refusal };
    return refuse(refusal.kind === 'too_large' ? { ...refusal, what: cap.what } : refusal);
  }
  const body = Buffer.concat(state.chunks, state.size);
  // Keep what the body holds (a declared length may have been larger than what came).
  budget.give(state.taken - body.length, false);
  let given = false;
  const done = () => {
    if (given) return;
    given = true;
    budget.give(body.length, false);
  };
  return { body, done };
}

/** The answer to a refused body; the connection closes after it. */
export function refusalReply(refused: BodyRefusal): {
  status: number;
  body: { error: string; message: string; limit?: number };
  headers: Record<string, string>;
} {
  const close = { connection: 'close' };
  switch (refused.kind) {
    case 'too_large':
      return {
        status: 413,
        body: {
          error: 'payload_too_large',
          message: `body over ${refused.limit} bytes (${refused.what})`,
          limit: refused.limit,
        },
        headers: close,
      };
    case 'busy':
      return {
        status: 503,
        body: {
          error: 'busy',
          message: 'ingest holds as many request bodies as it may now; retry later',
        },
        headers: { ...close, 'retry-after': String(refused.retryAfterS) },
      };
    case 'incomplete':
      return {
        status: 400,
        body: { error: 'incomplete_body', message: 'the request body did not arrive whole' },
        headers: close,
      };
  }
}

/** Defaults that keep ingest within a 256 MiB memory limit (see the README). */
export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxBufferedBytes: 16 * 1024 * 1024,
  maxConcurrentReads: 64,
  queueMs: 2_000,
  drainBytes: 128 * 1024 * 1024,
  drainMs: 10_000,
};

/** An HTTP answer of ingest's routes: status, optional JSON body and headers. */
export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Answers once the body was read: an answer given before the body ended drains the rest first
 * (within the drain bounds) and closes, so the sender reads it rather than a connection reset.
 */
export async function answerAfterBody(
  req: IncomingMessage,
  res: ServerResponse,
  answer: Answer,
  bodies: BodyBudget,
): Promise<void> {
  if (!req.readableEnded) {
    res.setHeader('connection', 'close');
    await drain(req, bodies.limits);
  }
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (answer.body === undefined) {
    res.writeHead(answer.status);
    res.end();
  } else sendJson(res, answer.status, answer.body);
}
