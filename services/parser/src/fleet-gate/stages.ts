// At a fleet's hub with FLEET_WAVES: one consuming stage per later wave (its durable consumer
// `fleet-wave-<n>`, declared by fleetTopology), all judging from one view of the clusters'
// outcomes. None anywhere else: a single cluster, or a fleet without waves, runs the parser alone.
import { fleetWaveGate, fleetWaveNumbers, type FleetWaves } from '@onpush/contracts';
import { defineStage, type StageSettings, type ServiceEffects } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import { followFleet, type FleetView } from './follow.js';
import { createWaveGate } from './gate.js';

/** The parser's FLEET_WAVE* settings (config.ts). */
export interface FleetWaveSettings {
  readonly FLEET_WAVES?: FleetWaves | undefined;
  readonly FLEET_WAVE_SOAK: number;
  readonly FLEET_WAVE_TIMEOUT: number;
}

/** Outcomes older than the longest wait are never asked about: the fold keeps this much more. */
const MARGIN_MS = 10 * 60_000;

export function fleetGateStages(
  config: FleetWaveSettings,
  settings: StageSettings,
  log: Logger,
): ServiceEffects[] {
  const waves = config.FLEET_WAVES;
  if (waves === undefined) return [];
  const windowMs = config.FLEET_WAVE_TIMEOUT + config.FLEET_WAVE_SOAK + MARGIN_MS;
  let view: Promise<FleetView> | undefined;
  return fleetWaveNumbers(waves)
    .slice(1)
    .map((wave) =>
      defineStage({
        stage: 'parser',
        ...settings,
        // bound as declared: CONSUMER_* tune the parser's own consumer, not the gates
        consumer: fleetWaveGate(wave),
        start: async ({ nc, js }) => {
          view ??= followFleet(nc, js, { windowMs, log }).catch((error: unknown) => {
            view = undefined;
            throw error;
          });
          const fleet = await view;
          return {
            handle: createWaveGate({
              wave,
              waves,
              clusters: () => fleet.clusters(),
              settlements: fleet.settlements,
              caughtUp: () => fleet.caughtUp(),
              soakMs: config.FLEET_WAVE_SOAK,
              timeoutMs: config.FLEET_WAVE_TIMEOUT,
              log,
            }),
            close: () => fleet.stop(),
          };
        },
      }),
    );
}
