import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/*
 * Every part of a benchmark runs in its own process (Kefu, the emulator, the load generator, each
 * raw baseline), so no figure is the cost of another part sharing its event loop. They talk over
 * the fork IPC channel: the parent calls a named handler in the child and awaits its answer.
 */

type Handler = (args: any) => unknown;

interface Call {
  id: number;
  op: string;
  args: unknown;
}

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** A child process started with `startWorker`. */
export interface Worker {
  readonly pid: number;
  readonly name: string;
  call<T = unknown>(op: string, args?: unknown): Promise<T>;
  /** SIGKILL, then waits for the exit; safe to call twice. */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A benchmark that throws must not leave servers running behind it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface WorkerOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra node flags (e.g. --expose-gc), after the tsx loader. */
  nodeArgs?: string[];
  /** The child's stdout and stderr are shown prefixed with its name when set. */
  verbose?: boolean;
}

/** Forks `bench/<file>` under tsx and resolves once it has sent `ready`. */
export function startWorker(file: string, opts: WorkerOptions = {}): Promise<Worker> {
  const name = path.basename(file, '.ts');
  const child = fork(path.join(import.meta.dirname, file), [], {
    execArgv: ['--import', 'tsx', ...(opts.nodeArgs ?? [])],
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8000);
    if (opts.verbose || process.env.KEFU_BENCH_VERBOSE)
      process.stderr.write(`[${name}] ${chunk.toString('utf8')}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      for (const p of pending.values())
        p.reject(new Error(`${name} exited (${code ?? signal})\n${tail}`));
      pending.clear();
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready in 60 s\n${tail}`)), 60_000);
    void gone.then(() => reject(new Error(`${name} exited before ready\n${tail}`)));
    child.on('message', (msg: Answer | { ready: true }) => {
      if ('ready' in msg) {
        clearTimeout(timer);
        resolve(worker);
        return;
      }
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
    const worker: Worker = {
      pid: child.pid ?? 0,
      name,
      call(op, args) {
        if (exited) return Promise.reject(new Error(`${name} has exited\n${tail}`));
        const id = ++nextId;
        return new Promise((res, rej) => {
          pending.set(id, { resolve: res, reject: rej });
          child.send({ id, op, args } satisfies Call);
        });
      },
      async kill() {
        if (!exited) child.kill('SIGKILL');
        await gone;
      },
    };
  });
}

/** The child side: answers calls with `handlers`, then tells the parent it is ready. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (msg: Call) => {
    const reply = (a: Answer) => process.send?.(a);
    const handler = handlers[msg.op];
    if (!handler) return reply({ id: msg.id, ok: false, error: `no handler ${msg.op}` });
    Promise.resolve()
      .then(() => handler(msg.args))
      .then(
        (value) => reply({ id: msg.id, ok: true, value }),
        (err: unknown) =>
          reply({
            id: msg.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
  // The parent going away ends the child: no orphaned servers.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}
