import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import {
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Payload,
  type Status,
} from '@nats-io/nats-core';
import { describe, expect, it, vi } from 'vitest';
import { Failover, ackSubjectOf, failingOver, isUnanswered, whileUnanswered } from './failover.js';
import type { Publish } from './publish.js';

function fakeConnection() {
  const moves: string[] = [];
  let clock = 0;
  const published: string[] = [];
  const nc = {
    reconnect: () => {
      moves.push(`at ${clock}`);
      return Promise.resolve();
    },
    isClosed: () => false,
    isDraining: () => false,
    publish: (subject: string, data?: Payload) => {
      published.push(
        `${subject} ${typeof data === 'string' ? data : new TextDecoder().decode(data)}`,
      );
    },
    // the connection to the next server is made as soon as it is asked for; which one: `dials`
    status: async function* (): AsyncGenerator<Status> {
      await Promise.resolve();
      const from = server;
      server = dials.shift() ?? 'b';
      yield { type: 'disconnect', server: from };
      yield { type: 'reconnect', server };
    },
  };
  let server = 'a';
  const dials: string[] = [];
  return {
    nc,
    moves,
    published,
    dials,
    tick: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

describe('Failover', () => {
  it('moves on again when the client library dials the server it just left', async () => {
    const { nc, moves, dials, published, now } = fakeConnection();
    dials.push('a', 'a', 'c'); // the library's rotation comes back to `a` first
    const failover = new Failover(nc, { now, failures: 1, spanMs: 0 });
    failover.acked('$JS.ACK.ONPUSH.parser.1.1.1.1.0');
    failover.failed('stranded');
    await vi.waitFor(() => expect(published).toHaveLength(1));
    expect(moves).toHaveLength(3); // a → a, a → a, a → c
    expect(dials).toEqual([]);
  });

  it('moves to another server after 3 unanswered operations spanning 5 s, once per 5 s', () => {
    const { nc, moves, tick, now } = fakeConnection();
    const failover = new Failover(nc, { now });
    failover.failed('a');
    tick(1_000);
    failover.failed('b');
    tick(1_000);
    failover.failed('c'); // three, but within 2 s: a blip, not a stranded server
    expect(moves).toEqual([]);
    tick(3_000);
    failover.failed('d');
    expect(moves).toEqual(['at 5000']);
    // still failing right after the move: not again until 5 s later
    for (let i = 0; i < 3; i += 1) {
      tick(1_000);
      failover.failed('e');
    }
    expect(moves).toEqual(['at 5000']);
    for (let i = 0; i < 4; i += 1) {
      tick(1_000);
      failover.failed('f');
    }
    expect(moves).toEqual(['at 5000', 'at 11000']);
  });

  it('starts counting again after a success', () => {
    const { nc, moves, tick, now } = fakeConnection();
    const failover = new Failover(nc, { now });
    for (let i = 0; i < 10; i += 1) {
      tick(1_000);
      failover.failed('x');
      tick(1_000);
      failover.succeeded();
    }
    expect(moves).toEqual([]);
  });
});

describe('Failover: acks sent through a stranded server', () => {
  it('sends the acks of the last 20 s again once connected to the next server', async () => {
    const { nc, published, tick, now } = fakeConnection();
    const failover = new Failover(nc, { now });
    failover.acked('$JS.ACK.ONPUSH.restarter.1.1.1');
    tick(25_000); // older than the memory: the broker has long redelivered it
    failover.acked('$JS.ACK.ONPUSH.restarter.1.2.2');
    failover.acked(undefined); // a message without a reply subject: nothing to send
    failover.failed('a');
    tick(3_000);
    failover.acked('$JS.ACK.ONPUSH.restarter.1.3.3');
    failover.failed('b');
    tick(3_000);
    failover.failed('c');
    await vi.waitFor(() => expect(published).toHaveLength(2));
    expect(published).toEqual([
      '$JS.ACK.ONPUSH.restarter.1.2.2 +ACK',
      '$JS.ACK.ONPUSH.restarter.1.3.3 +ACK',
    ]);
  });

  it('keeps at most ackMemoryLimit acks, the newest', async () => {
    const { nc, published, tick, now } = fakeConnection();
    const failover = new Failover(nc, { now, failures: 1, spanMs: 0, ackMemoryLimit: 4 });
    for (let i = 1; i <= 10; i += 1) failover.acked(`$JS.ACK.x.${i}`);
    tick(1);
    failover.failed('a');
    await vi.waitFor(() => expect(published).toHaveLength(4));
    expect(published.map((p) => p.split(' ')[0])).toEqual([
      '$JS.ACK.x.7',
      '$JS.ACK.x.8',
      '$JS.ACK.x.9',
      '$JS.ACK.x.10',
    ]);
  });
});

describe('ackSubjectOf', () => {
  it('is the reply subject of a delivery when it is a $JS.ACK subject, else nothing', () => {
    expect(ackSubjectOf({ reply: '$JS.ACK.ONPUSH.parser.1.7.7.1700000000000000000.0' })).toBe(
      '$JS.ACK.ONPUSH.parser.1.7.7.1700000000000000000.0',
    );
    expect(ackSubjectOf({ reply: '_INBOX_parser.abc' })).toBeUndefined();
    expect(ackSubjectOf({})).toBeUndefined();
  });
});

describe('isUnanswered', () => {
  it('is true for no responders and timeouts (also as a cause), false for other errors', () => {
    expect(isUnanswered(new TimeoutError())).toBe(true);
    expect(isUnanswered(new NoRespondersError('onpush.raw.gar'))).toBe(true);
    const wrapped = new Error('jetstream is not enabled', {
      cause: new RequestError('no responders', { cause: new NoRespondersError('x') }),
    });
    expect(isUnanswered(wrapped)).toBe(true);
    const status = Object.assign(new JetStreamError('no responders'), { code: 503 });
    expect(isUnanswered(status)).toBe(true);
    expect(isUnanswered(Object.assign(new JetStreamError('idle'), { code: 409 }))).toBe(false);
    // the API's errors: status 503 (whatever the JetStream code) is unanswered, others refusals
    const api = (code: number, err_code: number, description: string) =>
      new JetStreamApiError({ code, err_code, description });
    expect(isUnanswered(api(503, 10008, 'JetStream system temporarily unavailable'))).toBe(true);
    expect(isUnanswered(api(409, 10158, 'duplicate message id is in process'))).toBe(false);
    expect(isUnanswered(api(404, 10059, 'stream not found'))).toBe(false);
    expect(
      isUnanswered(
        Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' }),
      ),
    ).toBe(true);
    expect(isUnanswered(new Error('maximum payload exceeded'))).toBe(false);
    expect(isUnanswered('timeout')).toBe(false);
  });

  it('counts each unanswered publish, and a stored one resets the count', async () => {
    const { nc, moves, tick, now } = fakeConnection();
    const failover = new Failover(nc, { now, failures: 2, spanMs: 0 });
    let answer: 'ok' | 'timeout' | 'refused' = 'timeout';
    const inner: Publish = () => {
      if (answer === 'ok') return Promise.resolve({ stream: 'S', seq: 1, duplicate: false });
      return Promise.reject(answer === 'timeout' ? new TimeoutError() : new Error('refused'));
    };
    const publish = failingOver(inner, failover);
    const send = () => publish('s', new Uint8Array(), { msgId: '1' }).catch(() => undefined);
    await send();
    answer = 'refused';
    await send(); // a refusal is an answer, not a sign of a stranded server
    answer = 'ok';
    await send();
    answer = 'timeout';
    await send();
    expect(moves).toEqual([]);
    tick(1);
    await send();
    expect(moves).toHaveLength(1);
  });
});

describe('whileUnanswered', () => {
  it('asks again while JetStream does not answer, and gives up on any other error at once', async () => {
    let calls = 0;
    const answer = await whileUnanswered(() => {
      calls += 1;
      return calls < 3
        ? Promise.reject(new NoRespondersError('$JS.API.INFO'))
        : Promise.resolve(42);
    }, 5_000);
    expect(answer).toBe(42);
    expect(calls).toBe(3);

    const refused = rejecting(new Error('stream not found'));
    await expect(whileUnanswered(refused.work, 5_000)).rejects.toThrow('stream not found');
    expect(refused.calls()).toBe(1);
  });

  it('passes on the unanswered error once its time is up', async () => {
    const unanswered = rejecting(new NoRespondersError('$JS.API.INFO'));
    await expect(whileUnanswered(unanswered.work, 0)).rejects.toBeInstanceOf(NoRespondersError);
    expect(unanswered.calls()).toBe(1);
  });
});

/** Work that always fails with `error`, counting its calls. */
function rejecting(error: Error) {
  let calls = 0;
  return {
    work: () => {
      calls += 1;
      return Promise.reject(error);
    },
    calls: () => calls,
  };
}
