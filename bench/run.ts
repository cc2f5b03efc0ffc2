import { benchFanout } from './fanout';
import { now } from './lib';
import { benchPushIngest } from './push-ingest';
import { benchReplyPath } from './reply-path';
import { benchWsMemory } from './ws-memory';

/*
 * `npm run bench [-- name …]`: runs the benchmarks one after another and prints, for each
 * figure, Kefu's value, a raw baseline measured in the same run, and their ratio. Not part of
 * `npm test`: timing goals live here, never in tests (house style).
 */
const BENCHES: Record<string, () => Promise<string[]>> = {
  'push-ingest': benchPushIngest,
  'reply-path': benchReplyPath,
  fanout: benchFanout,
  'ws-memory': benchWsMemory,
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown bench: ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`,
    );
    process.exit(2);
  }
  const lines: string[] = [];
  for (const name of asked.length > 0 ? asked : Object.keys(BENCHES)) {
    console.log(`# ${name}`);
    const start = now();
    const out = await BENCHES[name]!();
    for (const line of out) console.log(line);
    console.log(`  (${((now() - start) / 1000).toFixed(1)} s)`);
    lines.push(...out);
  }
  console.log('\n# summary');
  for (const line of lines) console.log(line);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
