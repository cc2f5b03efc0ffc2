import { describe, expect, it } from 'vitest';
import { DIALECTS } from './harness';
import { SHORT, runChaos } from './chaos/scenario';

/*
 * The chaos check's short profile (issue 7, part 7): two Kefu processes on PostgreSQL and Redis,
 * each dependency behind a fault proxy, a couple of hundred pushes with WeChat's retries and
 * concurrent duplicates while agents reply; one SIGKILL + restart, one reset of each proxy, one
 * vanished agent socket, a PostgreSQL stall and a WeChat black hole. The checker then reads the
 * database and the emulator and must find every property holding. No timing is asserted: the
 * run waits for quiescence before judging.
 */
describe.runIf(DIALECTS.includes('postgres'))('chaos check, short profile', () => {
  it('nothing acknowledged lost or doubled, order kept, one open conversation, replies sent once', async () => {
    const result = await runChaos(SHORT);
    // The whole report on failure: figures, and each property with its counterexamples.
    expect(result.ok, result.report).toBe(true);
    expect(result.history.pushes.filter((p) => p.ackedAt !== undefined).length).toBeGreaterThan(0);
  }, 600_000);
});
