import { describe, expect, it } from 'vitest';
import { identityOfTenant } from '../../src/api/auth/api-keys';
import { ActiveBatchQuota } from '../../src/api/quota';
import { ApiError } from '../../src/domain/api-error';

/** Temporal as the quota sees it, with a visibility that lists a start only after `lagMs`. */
function fakeTemporal(lagMs: number) {
  const started: { id: string; tenant: string; at: number }[] = [];
  const visible = () => started.filter((b) => Date.now() - b.at >= lagMs);
  return {
    started,
    start: (tenant: string, id: string) => started.push({ id, tenant, at: Date.now() }),
    countActive: async (tenant: string) => visible().filter((b) => b.tenant === tenant).length,
    visibleBatchIds: async (ids: string[]) =>
      new Set(
        visible()
          .filter((b) => ids.includes(b.id))
          .map((b) => b.id),
      ),
  };
}

describe('max_active_batches', () => {
  it('admits exactly up to the limit under concurrent creates, although visibility trails the starts', async () => {
    const temporal = fakeTemporal(200);
    const quota = new ActiveBatchQuota(temporal);
    const identity = { ...identityOfTenant('team-q'), maxActiveBatches: 3 };
    let n = 0;
    const create = () =>
      quota.run(identity, async (admit) => {
        await admit();
        const id = `batch_${++n}`;
        temporal.start('team-q', id);
        return { id };
      });
    const results = await Promise.allSettled(Array.from({ length: 8 }, create));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason as ApiError);
    expect(refused).toHaveLength(5);
    expect(refused.every((e) => e.statusCode === 429 && e.code === 'too_many_active_batches')).toBe(true);
    // Once visibility lists them, the count alone holds them (and another tenant is not affected).
    await new Promise((r) => setTimeout(r, 250));
    await expect(create()).rejects.toThrow(/has 3 active batches/);
    const other = await quota.run({ ...identityOfTenant('team-x'), maxActiveBatches: 1 }, async (admit) => {
      await admit();
      return { id: 'batch_x' };
    });
    expect(other.id).toBe('batch_x');
  });

  it('counts nothing for a create that starts nothing (an idempotent retry) and does not limit without a quota', async () => {
    const temporal = fakeTemporal(0);
    const quota = new ActiveBatchQuota(temporal);
    const identity = { ...identityOfTenant('team-q'), maxActiveBatches: 1 };
    await quota.run(
      identity,
      async (admit) => (await admit(), temporal.start('team-q', 'batch_a'), { id: 'batch_a' }),
    );
    // The retry finds its batch without admit(): answered, not refused.
    await expect(quota.run(identity, async () => ({ id: 'batch_a' }))).resolves.toEqual({ id: 'batch_a' });
    await expect(quota.run(identity, async (admit) => (await admit(), { id: 'batch_b' }))).rejects.toThrow(
      ApiError,
    );
    const unlimited = identityOfTenant('team-q');
    await expect(quota.run(unlimited, async (admit) => (await admit(), { id: 'batch_c' }))).resolves.toEqual({
      id: 'batch_c',
    });
  });
});
