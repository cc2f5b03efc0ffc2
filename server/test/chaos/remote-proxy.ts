import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { ProxyStats } from '../fault-proxy';

/** A FaultProxy living in the proxy host process, driven over IPC (see proxy-host.ts). */
export interface RemoteProxy {
  readonly port: number;
  pass(): Promise<void>;
  delay(ms: number): Promise<void>;
  drop(): Promise<void>;
  blackhole(): Promise<void>;
  /** Resets every live connection; resolves with how many. */
  resetAll(): Promise<number>;
  /** Answer chunks held right now (a reset would lose them). */
  heldAnswers(): Promise<number>;
  stats(): Promise<ProxyStats>;
}

export interface ProxyHost<N extends string> {
  proxies: Record<N, RemoteProxy>;
  close(): Promise<void>;
}

const HOST = path.join(import.meta.dirname, 'proxy-host.ts');

/** Starts one process holding a proxy per target. */
export async function startProxyHost<N extends string>(
  targets: Record<N, { host: string; port: number }>,
): Promise<ProxyHost<N>> {
  const child: ChildProcess = fork(HOST, [JSON.stringify(targets)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // The network is not one more process starving for CPU: let the proxies run first where the
  // system allows it (root); elsewhere they run at the normal priority.
  try {
    if (child.pid) os.setPriority(child.pid, -10);
  } catch {
    // Not permitted: fine.
  }
  let serial = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`proxy host exited (${code})`)));
    child.on('message', (raw) => {
      const msg = raw as { ready?: Record<string, number>; id?: number; result?: unknown };
      if (msg.ready) resolve(msg.ready);
      else if (msg.id !== undefined) {
        waiting.get(msg.id)?.(msg.result);
        waiting.delete(msg.id);
      }
    });
  });
  const call = <T>(name: string, op: string, arg?: number) =>
    new Promise<T>((resolve) => {
      serial += 1;
      waiting.set(serial, (r) => resolve(r as T));
      child.send({ id: serial, name, op, arg });
    });
  const proxies = {} as Record<N, RemoteProxy>;
  for (const name of Object.keys(targets) as N[]) {
    proxies[name] = {
      port: ports[name]!,
      pass: () => call<void>(name, 'pass'),
      delay: (ms) => call<void>(name, 'delay', ms),
      drop: () => call<void>(name, 'drop'),
      blackhole: () => call<void>(name, 'blackhole'),
      resetAll: () => call<number>(name, 'resetAll'),
      heldAnswers: () => call<number>(name, 'heldAnswers'),
      stats: () => call<ProxyStats>(name, 'stats'),
    };
  }
  return {
    proxies,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
