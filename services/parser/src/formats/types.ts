import type { ImageRef } from '@onpush/contracts';
import type { ParseError } from '../errors.js';

/** One push found in a delivery. */
export interface Push {
  ref: ImageRef;
  /** The sender's time of the push, ISO 8601 (or anything Date.parse reads), when it says. */
  pushedAt?: string | undefined;
  /** Distinguishes pushes of one delivery (a batch); '' for a single push. */
  key: string;
  /** A malformed digest that was dropped (the tag still names the image). */
  droppedDigest?: string | undefined;
}

/** A malformed entry of a batch whose other entries were usable. */
export interface Rejected {
  key: string;
  error: ParseError;
}

/** What a delivery means: pushes, or nothing to do and why (a delete, a ping, a layer). */
export type FormatResult =
  | { kind: 'pushes'; pushes: Push[]; rejected?: Rejected[] | undefined }
  | { kind: 'ignored'; reason: string; detail: string };

export interface Delivery {
  data: Uint8Array;
  /** Transport headers (Pub/Sub attributes, HTTP headers), lower-case names. */
  transport: Record<string, string>;
  /** The registry host configured on the ingest endpoint (`Onpush-Registry-Host`), if any. */
  registryHost?: string | undefined;
  /** The sender's content type (`Onpush-Content-Type`, else the transport's `content-type`). */
  contentType?: string | undefined;
}

/** A registry's format: bytes in, pushes out; throws ParseError when the body is unusable. */
export type Format = (delivery: Delivery) => FormatResult;
