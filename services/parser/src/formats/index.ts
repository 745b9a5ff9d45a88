import { gar } from './gar.js';
import type { Format } from './types.js';

/** Formats by source (the last token of `onpush.raw.<source>`). */
export const FORMATS: Readonly<Record<string, Format>> = {
  gar,
};

export type { Format, FormatResult, Push, Delivery } from './types.js';
