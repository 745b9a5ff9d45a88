import type { ServiceEffects } from './run.js';

/**
 * Several consuming stages run as one service (the dlq-manager's dead letters and advisories; a
 * fleet hub's parser and its wave gates): connects each in turn (draining those connected if one
 * cannot connect), runs all, drains all.
 */
export function allEffects(...effects: readonly ServiceEffects[]): ServiceEffects {
  const [first, ...rest] = effects;
  if (first === undefined) throw new Error('allEffects needs at least one stage');
  if (rest.length === 0) return first;
  const tail = allEffects(...rest);
  return bothEffects(first, tail);
}

function bothEffects(first: ServiceEffects, second: ServiceEffects): ServiceEffects {
  return {
    async connect() {
      await first.connect();
      try {
        await second.connect();
      } catch (error) {
        await first.drain().catch(() => undefined);
        throw error;
      }
    },
    run(report) {
      const stopFirst = first.run(report);
      const stopSecond = second.run(report);
      return () => {
        stopFirst();
        stopSecond();
      };
    },
    async drain() {
      await Promise.all([first.drain(), second.drain()]);
    },
  };
}
