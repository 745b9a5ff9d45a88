import { adminFields, adminOidcProblems, baseServiceSchema } from '@onpush/service';
import { consoleFields } from '@onpush/console';
import { duration, port } from '@onpush/config';

export const dlqManagerSchema = baseServiceSchema
  .extend({
    PORT: port({ allowZero: true }).default(8085),
    /** How often the DLQ depth and oldest-age gauges are refreshed from stream info. */
    DLQ_STATS_INTERVAL: duration({ min: 1_000 }).default(15_000),
    /** The /dlq API: its port (ADMIN_PORT), its bearer token (ADMIN_TOKEN_FILE). */
    ...adminFields,
    /** The console on the admin listener (/console): its trace links and history. */
    ...consoleFields,
  })
  .superRefine((config, ctx) => {
    // ADMIN_OIDC_*: all or none (each problem names its variable)
    for (const { path, message } of adminOidcProblems(config))
      ctx.addIssue({ code: 'custom', path: [path], message });
  });
