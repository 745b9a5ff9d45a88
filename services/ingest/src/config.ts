import { z } from 'zod';
import { bool, int, port } from '@onpush/config';
import { baseServiceSchema } from '@onpush/service';

const MIB = 1024 * 1024;

/**
 * A Pub/Sub topic or subscription id (a letter, then 2-254 of `A-Za-z0-9-_.~+%`), or its full
 * name `projects/<project>/<kind>/<id>`, which the client library also accepts.
 */
const resourceId = (kind: 'topics' | 'subscriptions') =>
  z
    .string()
    .regex(
      new RegExp(`^(?:projects/[^/]+/${kind}/)?[A-Za-z][A-Za-z0-9\\-_.~+%]{2,254}$`),
      `must be a Pub/Sub id (a letter, then 2-254 of A-Z a-z 0-9 - _ . ~ + %) or projects/<project>/${kind}/<id>`,
    );

export const ingestSchema = baseServiceSchema
  .extend({
    PORT: port({ allowZero: true }).default(8081),
    /** The Google Cloud project of the subscription; required when pulling. */
    PUBSUB_PROJECT: z.string().optional(),
    PUBSUB_SUBSCRIPTION: resourceId('subscriptions').default('onpush-gcr'),
    /** The topic the registry publishes to (Artifact Registry: literally `gcr`). */
    PUBSUB_TOPIC: resourceId('topics').default('gcr'),
    /** Create the topic and subscription when missing (sandbox, demo). */
    PUBSUB_CREATE_SUBSCRIPTION: bool().default(false),
    /** false: HTTP push only, no streaming pull. */
    PUBSUB_PULL: bool().default(true),
    /** `host:port` of the Pub/Sub emulator (the standard variable). */
    PUBSUB_EMULATOR_HOST: z.string().optional(),
    /** Largest HTTP push body accepted. */
    MAX_BODY_BYTES: int({ min: 1, max: 64 * MIB }).default(MIB),
    /** Pub/Sub flow control: messages held (being handled) at once. */
    PUBSUB_MAX_MESSAGES: int({ min: 1, max: 10_000 }).default(500),
  })
  // Checked even when another variable is invalid (`when`), so every problem is listed at once.
  .refine(
    (c) =>
      c.PUBSUB_PROJECT !== undefined ||
      (c.PUBSUB_PULL !== true && c.PUBSUB_CREATE_SUBSCRIPTION !== true),
    {
      path: ['PUBSUB_PROJECT'],
      message:
        'required when PUBSUB_PULL or PUBSUB_CREATE_SUBSCRIPTION is true (PUBSUB_PULL=false: HTTP push only)',
      when: () => true,
    },
  );

export type IngestConfig = z.output<typeof ingestSchema>;
