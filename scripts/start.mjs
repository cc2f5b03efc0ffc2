// `npm start`: builds the console quietly (its output goes to data/build.log), then runs the
// demo, Kefu plus the WeChat emulator, in this terminal. A signal sent to npm, or Ctrl+C, stops
// the demo cleanly: it is forwarded to the child, whose exit ends this process.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dataDir = path.resolve(root, process.env.KEFU_DATA_DIR ?? 'data');
mkdirSync(dataDir, { recursive: true });
const buildLog = path.join(dataDir, 'build.log');

// npm does not pass a signal on to the script reliably (its shell may die, or outlive npm,
// and leave us running): when npm itself goes away, that is the signal to stop. npm is our
// parent, or the parent of the shell that runs us (Linux: read from /proc).
const parent = process.ppid;
let npmPid = parent;
try {
  const stat = readFileSync(`/proc/${parent}/stat`, 'utf8');
  const command = readFileSync(`/proc/${parent}/cmdline`, 'utf8');
  if (/^(\/\S*\/)?(da|ba)?sh\0/.test(command)) npmPid = Number(stat.split(') ')[1]?.split(' ')[1]);
} catch {
  // Not Linux: watch the parent only.
}
const gone = (pid) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

function run(cmd, args, stdio) {
  const child = spawn(cmd, args, { cwd: root, stdio, env: process.env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  const orphaned = setInterval(() => {
    if (process.ppid !== parent || gone(npmPid)) child.kill('SIGTERM');
  }, 500);
  child.once('exit', () => clearInterval(orphaned));
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
}

// Tests of the demo skip the build (the suite builds once, and rebuilding web/dist would race
// the browser tests reading it).
const skipBuild = process.env.KEFU_SKIP_WEB_BUILD === '1';
const started = Date.now();
if (!skipBuild) process.stdout.write('  Building the console (web/dist)… ');
const log = openSync(buildLog, 'w');
const built = skipBuild ? 0 : await run('npm', ['run', '-s', 'build:web'], ['ignore', log, log]);
if (built !== 0) {
  console.log('failed.\n');
  console.log(readFileSync(buildLog, 'utf8').split('\n').slice(-30).join('\n'));
  console.log(`\n  The whole build output is in ${buildLog}.`);
  process.exit(built);
}
if (!skipBuild)
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (output in ${buildLog}).`);
process.exitCode = await run(
  process.execPath,
  ['--import', 'tsx', 'server/src/main.ts', 'demo'],
  'inherit',
);
