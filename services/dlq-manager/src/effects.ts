import type { ServiceEffects } from '@onpush/service';

/**
 * Two consuming stages run as one service: the dead-letter consumer and the advisory consumer.
 * Connects both (closing the first again if the second cannot connect), runs both, drains both.
 */
export function bothEffects(first: ServiceEffects, second: ServiceEffects): ServiceEffects {
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
