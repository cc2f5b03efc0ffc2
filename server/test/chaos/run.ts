import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LONG, SHORT, runChaos, type ChaosProfile } from './scenario';

/*
 * `npm run chaos`: the long profile (or `--profile short`), with its figures and verdicts on
 * stdout; the exit code is 1 when a property fails. `--history FILE` keeps the whole history
 * as JSON for a closer look at a counterexample.
 */
const USAGE = `npm run chaos -- [--profile long|short] [--duration SECONDS] [--pushes N]
                     [--customers N] [--nodes 2|3] [--seed N] [--fault-every SECONDS]
                     [--history FILE] [--logs DIR]`;

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'long' },
    duration: { type: 'string' },
    pushes: { type: 'string' },
    customers: { type: 'string' },
    nodes: { type: 'string' },
    seed: { type: 'string' },
    'fault-every': { type: 'string' },
    history: { type: 'string' },
    logs: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const base = values.profile === 'short' ? SHORT : LONG;
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
const profile: ChaosProfile = {
  ...base,
  seed: num(values.seed, base.seed),
  durationMs: num(values.duration, base.durationMs / 1000) * 1000,
  customers: num(values.customers, base.customers),
  nodes: num(values.nodes, base.nodes),
  ...(values.logs ? { logDir: values.logs } : {}),
  faultEveryMs:
    values['fault-every'] !== undefined ? Number(values['fault-every']) * 1000 : base.faultEveryMs,
};
// More time means more pushes at the same rate unless --pushes says otherwise.
profile.pushes = num(
  values.pushes,
  Math.round((base.pushes * profile.durationMs) / base.durationMs),
);

const result = await runChaos(profile, (line) => process.stdout.write(`${line}\n`));
process.stdout.write(`${result.report}\n`);
if (values.history) writeFileSync(values.history, JSON.stringify(result.history, null, 1));
process.exit(result.ok ? 0 : 1);
