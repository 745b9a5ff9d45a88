import { describe, expect, it } from 'vitest';
import { ContractError } from './codec.js';
import { OnpushError, failureOf } from './failure.js';
import { SubjectError } from './subjects.js';

class Throttled extends OnpushError {
  override readonly name = 'Throttled';
  constructor(message: string) {
    super(message, { type: 'http_429', retryable: true, retryAfterMs: 2_000 });
  }
}

describe('failures', () => {
  it('read what an onpush error says about itself', () => {
    expect(failureOf(new Throttled('slow down'))).toEqual({
      type: 'http_429',
      message: 'slow down',
      retryable: true,
      retryAfterMs: 2_000,
    });
    const subject = new SubjectError('a.b');
    expect(subject).toBeInstanceOf(OnpushError);
    expect(failureOf(subject)).toMatchObject({ type: 'invalid_subject_token', retryable: false });
    expect(new ContractError('invalid_message', 'ImagePushed', [])).toBeInstanceOf(OnpushError);
  });

  it('count anything else as a transient internal_error', () => {
    expect(failureOf(new TypeError('x is undefined'))).toEqual({
      type: 'internal_error',
      message: 'x is undefined',
      retryable: true,
      retryAfterMs: undefined,
    });
    expect(failureOf('a string')).toMatchObject({ type: 'internal_error', message: 'a string' });
  });
});
