import { describe, expect, it } from 'vitest';
import { redactUrls } from './redact.js';

describe('redactUrls', () => {
  it.each([
    ['nats://user:pass@host:4222', 'nats://***@host:4222'],
    ['tls://token@nats.example.com', 'tls://***@nats.example.com'],
    [
      'connect to nats://a:b@x, then https://c:d@y/path?q=1',
      'connect to nats://***@x, then https://***@y/path?q=1',
    ],
    ['nats://host:4222', 'nats://host:4222'],
    ['https://host/a@b', 'https://host/a@b'],
    ['mail me: a@b.example', 'mail me: a@b.example'],
    ['{"url":"https://h.example","to":"a@b"}', '{"url":"https://h.example","to":"a@b"}'],
    ['{"error":"nats://svc:pw@n:4222 refused"}', '{"error":"nats://***@n:4222 refused"}'],
  ])('%s', (text, expected) => {
    expect(redactUrls(text)).toBe(expected);
  });
});
