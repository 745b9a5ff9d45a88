import { describe, expect, it } from 'vitest';
import { ignoreConflict } from './errors.js';

const apiError = (code: number) =>
  Object.assign(new Error(`HTTP ${code}`), { code, body: '', headers: {} });

describe('ignoreConflict', () => {
  it('counts a created object and one that exists already (409) as done', async () => {
    await expect(ignoreConflict(Promise.resolve({ kind: 'Namespace' }))).resolves.toBeUndefined();
    await expect(ignoreConflict(Promise.reject(apiError(409)))).resolves.toBeUndefined();
  });

  it('passes any other failure on, as thrown', async () => {
    const forbidden = apiError(403);
    await expect(ignoreConflict(Promise.reject(forbidden))).rejects.toBe(forbidden);
    const network = new Error('ECONNREFUSED');
    await expect(ignoreConflict(Promise.reject(network))).rejects.toBe(network);
  });
});
