import { baseServiceSchema } from '@onpush/service';
import { duration, parsedBy, port } from '@onpush/config';
import { parseFleetWaves } from '@onpush/contracts';

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

export const parserSchema = baseServiceSchema.extend({
  PORT: port({ allowZero: true }).default(8082),
  /**
   * At a fleet's hub: waves of clusters, `staging=1,prod-*=2` (a name or a glob each). A push
   * reaches a later wave's clusters only once every cluster of the earlier waves settled it —
   * restarted what runs it and saw those rollouts complete — and FLEET_WAVE_SOAK passed.
   */
  FLEET_WAVES: parsedBy(parseFleetWaves),
  /** How long a wave stays settled before the next wave gets the push (FLEET_WAVES). */
  FLEET_WAVE_SOAK: duration({ max: WEEK_MS }).default(0),
  /** A push an earlier wave has not settled in this long is halted for the later waves. */
  FLEET_WAVE_TIMEOUT: duration({ min: 1_000, max: WEEK_MS }).default(3_600_000),
});
