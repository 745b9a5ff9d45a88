import { request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Publish } from '@onpush/nats';
import { startHttp } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { BodyBudget, DEFAULT_BODY_LIMITS, type BodyLimits } from './body.js';
import { ingestMetrics } from './metrics.js';
import { pushRoute } from './push.js';

const MIB = 1024 * 1024;
const log = createLogger({ service: 'ingest-test' }, { write: () => undefined });
const stored: Publish = () => Promise.resolve({ stream: 'ONPUSH', seq: 1, duplicate: false });

let server: Server | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(options: {
  maxBodyBytes: number;
  limits?: Partial<BodyLimits>;
  publish?: Publish;
}): Promise<{ port: number; bodies: BodyBudget }> {
  const metrics = ingestMetrics(createMetrics('ingest-test'));
  const bodies = new BodyBudget({ ...DEFAULT_BODY_LIMITS, ...options.limits });
  server = await startHttp({
    port: 0,
    host: '127.0.0.1',
    registry: metrics.registry,
    live: () => true,
    ready: () => ({ ready: true, detail: {} }),
    routes: [
      pushRoute({
        publish: options.publish ?? stored,
        maxBodyBytes: options.maxBodyBytes,
        metrics,
        log,
        bodies,
      }),
    ],
  });
  return { port: (server.address() as AddressInfo).port, bodies };
}

interface Answer {
  status?: number | undefined;
  body?: string;
  retryAfter?: string | undefined;
  /** The client's error when there was no answer (a reset, say). */
  error?: string;
}

/**
 * POSTs `size` bytes as an HTTP client does, 256 KiB at a time (declaring the length unless
 * `chunked`), and reads the answer; `pauseMs` waits before the last chunk (a slow sender).
 */
function post(
  port: number,
  size: number,
  options: { chunked?: boolean; pauseMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/pubsub/push',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          ...(options.chunked ? {} : { 'content-length': String(size) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString(),
            retryAfter: res.headers['retry-after'],
          }),
        );
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    const chunk = Buffer.alloc(256 * 1024, 'a');
    let sent = 0;
    const write = (): void => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        const last = sent + n >= size;
        if (last && options.pauseMs && sent > 0) {
          options.pauseMs = 0;
          setTimeout(write, 200);
          return;
        }
        sent += n;
        if (!req.write(chunk.subarray(0, n))) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

/**
 * POSTs `size` bytes with Content-Length as the plainest client does: it sends the whole request,
 * and only then reads the answer. An answer followed by a close while it still sends reaches it
 * as a connection reset (the RST discards what it had not read).
 */
function postThenRead(port: number, size: number): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    const head =
      `POST /pubsub/push HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `content-length: ${size}\r\n\r\n`;
    socket.write(head);
    const chunk = Buffer.alloc(256 * 1024, 'a');
    let sent = 0;
    const write = (): void => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!socket.write(chunk.subarray(0, n))) {
          socket.once('drain', write);
          return;
        }
      }
      // Sent: now read.
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
        resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      });
    };
    write();
  });
}

describe('a body over the limit', () => {
  it.each([8, 16, 64])(
    'of %i MiB reaches a client that reads only once it sent everything as a 413',
    async (mib) => {
      const { port } = await start({ maxBodyBytes: MIB });
      const answer = await postThenRead(port, mib * MIB);
      expect(answer).toMatchObject({ status: 413 });
      expect(JSON.parse(answer.body!)).toMatchObject({ error: 'payload_too_large', limit: MIB });
    },
  );

  it.each([8, 16, 64])(
    'of %i MiB is answered 413 and the sender reads it (no connection reset)',
    async (mib) => {
      const { port } = await start({ maxBodyBytes: MIB });
      for (const chunked of [false, true]) {
        const answer = await post(port, mib * MIB, { chunked });
        expect(answer, chunked ? 'chunked' : 'with Content-Length').toMatchObject({ status: 413 });
        expect(JSON.parse(answer.body!)).toMatchObject({
          error: 'payload_too_large',
          limit: MIB,
          message: `body over ${MIB} bytes (MAX_BODY_BYTES)`,
        });
      }
    },
  );

  it('is drained only so far (HTTP_DRAIN_BYTES): beyond, the connection is closed', async () => {
    const { port } = await start({ maxBodyBytes: MIB, limits: { drainBytes: 2 * MIB } });
    const answer = await post(port, 64 * MIB);
    // Either the answer made it before the close, or the sender saw the close: never a hang.
    expect(answer.status === 413 || answer.error !== undefined).toBe(true);
  });

  it('larger than everything ingest may buffer (MAX_BUFFERED_BYTES) is 413 naming it', async () => {
    const { port } = await start({ maxBodyBytes: 8 * MIB, limits: { maxBufferedBytes: MIB } });
    const answer = await post(port, 2 * MIB);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body!)).toMatchObject({ limit: MIB });
    expect(answer.body).toContain('MAX_BUFFERED_BYTES');
  });
});

describe('bodies held at once', () => {
  it('503 with Retry-After when the bodies being read would exceed MAX_BUFFERED_BYTES', async () => {
    const { port, bodies } = await start({
      maxBodyBytes: 8 * MIB,
      limits: { maxBufferedBytes: 3 * MIB, queueMs: 50 },
    });
    // Two slow senders of 2 MiB: the first holds 2 MiB while it sends, the second finds no room.
    const first = post(port, 2 * MIB, { pauseMs: 200 });
    await vi.waitFor(() => expect(bodies.bufferedBytes).toBeGreaterThan(0));
    const second = await post(port, 2 * MIB);
    expect(second.status).toBe(503);
    expect(second.retryAfter).toBe('1');
    expect(JSON.parse(second.body!)).toMatchObject({ error: 'busy' });
    // The first is not an envelope (400): what matters is that it was read and handled.
    expect((await first).status).toBe(400);
    // Everything is given back once handled.
    await vi.waitFor(() => expect(bodies.bufferedBytes).toBe(0));
    expect(bodies.reading).toBe(0);
  });

  it('503 beyond MAX_CONCURRENT_BODIES; a request that finds room within the wait goes on', async () => {
    const { port, bodies } = await start({
      maxBodyBytes: 8 * MIB,
      limits: { maxConcurrentReads: 1, queueMs: 50 },
    });
    const slow = post(port, MIB, { pauseMs: 300 });
    await vi.waitFor(() => expect(bodies.reading).toBe(1));
    expect((await post(port, 10)).status).toBe(503);
    await slow;
    // With a longer wait, the second gets its turn once the first is read.
    bodies.limits.queueMs = 5_000;
    const [a, b] = await Promise.all([post(port, MIB, { pauseMs: 100 }), post(port, 10)]);
    expect([a.status, b.status]).toEqual([400, 400]);
  });
});

describe('a sender that goes away mid-body', () => {
  it('enters nothing, and what its body held is given back', async () => {
    const published: string[] = [];
    const publish: Publish = (subject) => {
      published.push(subject);
      return stored(subject, new Uint8Array(), { msgId: 'x' });
    };
    const { port, bodies } = await start({ maxBodyBytes: 8 * MIB, publish });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'POST /pubsub/push HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
        `content-length: ${4 * MIB}\r\n\r\n${'a'.repeat(MIB)}`,
    );
    await vi.waitFor(() => expect(bodies.bufferedBytes).toBe(4 * MIB));
    socket.destroy();
    await vi.waitFor(() => expect([bodies.bufferedBytes, bodies.reading]).toEqual([0, 0]));
    expect(published).toEqual([]);
  });
});

describe('BodyBudget', () => {
  it('takes, grows and gives back bytes and read slots; a waiter gets room when it frees', async () => {
    vi.useFakeTimers();
    const budget = new BodyBudget({
      ...DEFAULT_BODY_LIMITS,
      maxBufferedBytes: 100,
      maxConcurrentReads: 2,
      queueMs: 1_000,
    });
    expect(await budget.take(60)).toBe(true);
    expect(await budget.grow(50, 0)).toBe(false);
    expect(await budget.grow(40)).toBe(true);
    expect(budget.bufferedBytes).toBe(100);
    const waiting = budget.take(30);
    budget.give(40, false);
    expect(await waiting).toBe(true);
    expect(budget.reading).toBe(2);
    const refused = budget.take(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await refused).toBe(false); // both read slots taken
    budget.readDone();
    budget.give(90, true);
    expect([budget.bufferedBytes, budget.reading]).toEqual([0, 0]);
  });
});
