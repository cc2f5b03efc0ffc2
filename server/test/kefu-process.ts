import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Config } from '../src/config';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'server/src/main.ts');
export const READY = /Kefu listening on (\S+)/;
const KEEP_OUTPUT = 64 * 1024;

/** A node child process that printed its URL (crash tests, benchmarks). */
export interface KefuProcess {
  readonly url: string;
  readonly pid: number;
  readonly exited: boolean;
  /** SIGKILL: no shutdown hook runs, exactly like a crash. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** The tail of its stdout and stderr, for failure messages. */
  output(): string;
}

const running = new Set<ChildProcess>();
// Belt and braces: a test worker that dies must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The environment of a child that uses the same database, secret key and emulator as `config`.
 * Inherited KEFU_* variables are dropped so the parent's environment cannot leak in.
 */
export function kefuEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEFU_')) env[k] = v;
  return {
    ...env,
    KEFU_HOST: '127.0.0.1',
    KEFU_PORT: '0',
    KEFU_DATA_DIR: config.dataDir,
    KEFU_DATABASE_URL: config.databaseUrl,
    ...(config.databaseSchema ? { KEFU_DATABASE_SCHEMA: config.databaseSchema } : {}),
    KEFU_SECRET_KEY: config.secretKey,
    // As in-process tests: a loaded machine may hold a burst for seconds (see harness.ts).
    KEFU_PUSH_MAX_WAIT_MS: String(config.pushMaxWaitMs),
    KEFU_PUSH_SHED_BUSY: String(config.pushShedBusy),
    KEFU_WECHAT_API_BASE: config.wechatApiBase,
    KEFU_ALLOWED_OUTBOUND: config.allowedOutboundBases.join(','),
    KEFU_OUTBOX_POLL_MS: String(config.outboxPollMs),
    KEFU_PRESENCE_GRACE_SECONDS: String(config.presenceGraceSeconds),
    KEFU_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/**
 * Starts `node --import tsx server/src/main.ts start` (node itself is the child, so a signal
 * reaches the server and not a wrapper) and resolves with the URL it prints once listening.
 */
export function startKefu(env: NodeJS.ProcessEnv, opts: ScriptOptions = {}): Promise<KefuProcess> {
  return startScript(MAIN, ['start'], env, READY, opts);
}

export interface ScriptOptions {
  /** Extra node flags, after `--import tsx` (so TypeScript preloads work). */
  nodeArgs?: string[];
  timeoutMs?: number;
  /** Run plain JavaScript on node alone (a build), without tsx's loader. */
  plainNode?: boolean;
  cwd?: string;
}

/**
 * Runs a TypeScript file under node + tsx (or a built file on plain node); resolves once `ready`
 * (group 1: the URL) is printed.
 */
export function startScript(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  { nodeArgs = [], timeoutMs = 30_000, plainNode = false, cwd = ROOT }: ScriptOptions = {},
): Promise<KefuProcess> {
  const loader = plainNode ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...loader, ...nodeArgs, file, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  let exited = false;
  let url = '';
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    }),
  );
  // Both pipes are always drained: a full pipe would block the server's logging.
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const handle: KefuProcess = {
    get url() {
      return url;
    },
    pid: child.pid ?? 0,
    get exited() {
      return exited;
    },
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await gone;
    },
    output: () => output,
  };

  return new Promise<KefuProcess>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} ${why}\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs);
    void gone.then(() => fail(`exited with code ${child.exitCode ?? child.signalCode}`));
    child.stdout.on('data', () => {
      const match = ready.exec(output);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      url = match[1]!;
      resolve(handle);
    });
  });
}
