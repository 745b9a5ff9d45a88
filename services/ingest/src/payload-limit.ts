import { HEADERS, OnpushError } from '@onpush/contracts';
import { dedupId, type Publish, type PublishOptions } from '@onpush/nats';

/**
 * A message larger than the NATS server accepts (its `max_payload`, headers included). Never
 * retryable: the same bytes fail again, so a sender is answered 413 and a pulled Pub/Sub message
 * becomes a dead letter.
 */
export class PayloadTooLargeError extends OnpushError {
  override readonly name = 'PayloadTooLargeError';
  constructor(
    /** The message data, in bytes. */
    readonly dataBytes: number,
    /** Its NATS headers as sent (Nats-Msg-Id included), in bytes. */
    readonly headerBytes: number,
    /** The server's max_payload: data and headers together may not exceed it. */
    readonly maxPayload: number,
  ) {
    super(
      `${dataBytes} bytes of data and ${headerBytes} bytes of headers exceed the NATS server's ` +
        `max_payload of ${maxPayload} bytes`,
      { type: 'payload_too_large', retryable: false },
    );
  }

  /** The largest data that fits with these headers. */
  get dataLimit(): number {
    return Math.max(0, this.maxPayload - this.headerBytes);
  }
}

const CRLF = 2;
const PREAMBLE = 'NATS/1.0'.length + CRLF;

/** The size of NATS headers on the wire: `NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`. */
export function headerBytes(headers: Readonly<Record<string, string>>): number {
  let size = PREAMBLE + CRLF;
  for (const [name, value] of Object.entries(headers))
    size += Buffer.byteLength(name) + 2 + Buffer.byteLength(value) + CRLF;
  return size;
}

/** The headers a JetStream publish of `options` sends: its own, plus the Nats-Msg-Id. */
export function sentHeaderBytes(subject: string, options: PublishOptions): number {
  return headerBytes({ ...options.headers, [HEADERS.msgId]: dedupId(subject, options.msgId) });
}

/** The NATS client's own refusal of an oversized publish. */
export const isMaxPayloadError = (error: unknown): boolean =>
  error instanceof Error &&
  error.name === 'InvalidArgumentError' &&
  error.message.includes('max_payload');

/**
 * A publish that refuses, with a PayloadTooLargeError, what the server would not accept:
 * data plus headers over `maxPayload()` (the connected server's `max_payload`; undefined while
 * it is not known). The client's own max_payload refusal is reported the same way.
 */
export function limitPayload(publish: Publish, maxPayload: () => number | undefined): Publish {
  return async (subject, data, options) => {
    const limit = maxPayload();
    const headers = sentHeaderBytes(subject, options);
    if (limit !== undefined && data.byteLength + headers > limit)
      throw new PayloadTooLargeError(data.byteLength, headers, limit);
    try {
      return await publish(subject, data, options);
    } catch (error) {
      const known = maxPayload();
      if (isMaxPayloadError(error) && known !== undefined)
        throw new PayloadTooLargeError(data.byteLength, headers, known);
      throw error;
    }
  };
}
