import { benchFanout } from './g-fanout';
import { benchHistory } from './g-history';
import { benchIngest } from './g-ingest';
import { benchReply } from './g-reply';
import { benchSockets } from './g-sockets';
import { DIALECT, loadAverage, now } from './lib';

/*
 * `npm run bench [-- G1 G3 …]`: runs the selected goals (all by default) and prints one goal
 * line each, `name: value (ratio R vs baseline B) goal G: pass|fail`, with detail lines under
 * it and every goal line again at the end. Not part of `npm test`: timing goals live here.
 */
interface Bench {
  goals: string[];
  names: string[];
  about: string;
  run: (asked: Set<string>) => Promise<string[]>;
}

const BENCHES: Bench[] = [
  {
    goals: ['G1', 'G2'],
    names: ['push-ingest', 'overload'],
    about:
      'G1 push-ingest capacity ≥0.2 × min(bare node:http, batched SQLite); G2 3× capacity for 10 s',
    run: (asked) => benchIngest({ g1: asked.has('G1'), g2: asked.has('G2') }),
  },
  {
    goals: ['G3', 'G4'],
    names: ['push-latency', 'fanout'],
    about:
      'G3 push → agent frame p99 ≤25 ms with 500 sockets; G4 fan-out deliveries/s ≥0.5 × raw relay',
    run: (asked) => benchFanout({ g3: asked.has('G3'), g4: asked.has('G4') }),
  },
  {
    goals: ['G5'],
    names: ['reply-path'],
    about: 'G5 reply post → emulator inbox p99 at a fixed rate, 0 duplicates',
    run: () => benchReply(),
  },
  {
    goals: ['G6', 'G7'],
    names: ['idle-memory', 'reconnect-storm'],
    about:
      'G6 RSS per idle signed-in socket with 10k sockets vs a raw ws server; G7 5k of them drop and\n      resume at once under live pushes: event-loop delay p99 ≤200 ms',
    run: (asked) => benchSockets({ g6: asked.has('G6'), g7: asked.has('G7') }),
  },
  {
    goals: ['G8'],
    names: ['history-paging'],
    about: 'G8 newest page vs deep page of a huge conversation, vs a plain indexed lookup',
    run: () => benchHistory(),
  },
];

const USAGE = `npm run bench [-- <goal|name> …]

Runs every benchmark (or the selected ones) with Kefu, the WeChat emulator, the load generator
and each raw baseline in their own processes, and prints one line per goal:
  name: value (ratio R vs baseline B) goal G: pass|fail

Benchmarks:
${BENCHES.map((b) => `  ${b.goals.join(' ')}  (${b.names.join(', ')})\n      ${b.about}`).join('\n')}

Environment:
  KEFU_BENCH_DIALECT=postgres   Kefu on PostgreSQL (KEFU_TEST_PG_URL, default
                                postgres://postgres@127.0.0.1:5432/test; a fresh schema) for G1–G7
  KEFU_BENCH_ROUNDS=N           interleaved rounds per comparison (default 3)
  KEFU_BENCH_G3_RATE=N          G3 pushes per second (default 20)
  KEFU_BENCH_HISTORY_ROWS=N     G8 conversation size (default 1000000; the goal says 10M)
  KEFU_BENCH_IDLE_SOCKETS=N     G6 sockets (default 10000)
  KEFU_BENCH_STORM_SOCKETS=N    G7 sockets (default 5000)
  KEFU_BENCH_SQLITE_SYNC_FULL=1 Kefu with KEFU_SQLITE_SYNC_FULL (an fsync per commit)
  KEFU_BENCH_VERBOSE=1          show the child processes' output
`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const asked = new Set<string>();
  for (const arg of args) {
    const b = BENCHES.find((x) => x.goals.includes(arg.toUpperCase()) || x.names.includes(arg));
    if (!b) {
      console.error(`unknown benchmark: ${arg}\n\n${USAGE}`);
      process.exit(2);
    }
    const i = b.names.indexOf(arg);
    asked.add(i >= 0 ? b.goals[i]! : arg.toUpperCase());
  }
  if (asked.size === 0) for (const b of BENCHES) for (const g of b.goals) asked.add(g);
  console.log(
    `# kefu bench, ${DIALECT}, load average ${loadAverage()}, ${new Date().toISOString()}`,
  );
  const lines: string[] = [];
  for (const b of BENCHES) {
    if (!b.goals.some((g) => asked.has(g))) continue;
    console.log(`\n# ${b.goals.filter((g) => asked.has(g)).join(' ')}`);
    const start = now();
    try {
      lines.push(...(await b.run(asked)));
    } catch (err) {
      // One broken benchmark must not hide the others' figures.
      const line = `${b.goals.join('/')}: error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      console.error(err);
      lines.push(line);
    }
    console.log(`  (${((now() - start) / 1000).toFixed(0)} s, load average ${loadAverage()})`);
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
