import { acr } from './acr.js';
import { cloudevents } from './cloudevents.js';
import { distribution } from './distribution.js';
import { dockerhub } from './dockerhub.js';
import { ecr } from './ecr.js';
import { eventgrid } from './eventgrid.js';
import { gar } from './gar.js';
import { github } from './github.js';
import { harbor } from './harbor.js';
import { jfrog } from './jfrog.js';
import { quay } from './quay.js';
import type { Format } from './types.js';

/**
 * Formats by source (the last token of `onpush.raw.<source>`). `gcr` (Pub/Sub push or pull of
 * Artifact Registry notifications, as ingest names the webhook source) is the same format as
 * `gar` (the subject of the Pub/Sub pull path).
 */
export const FORMATS: Readonly<Record<string, Format>> = {
  gar,
  gcr: gar,
  dockerhub,
  distribution,
  harbor,
  github,
  quay,
  acr,
  eventgrid,
  ecr,
  jfrog,
  cloudevents,
};

export { MAX_BATCH, combined } from './batch.js';
export type { Format, FormatResult, Push, Delivery, Rejected } from './types.js';
