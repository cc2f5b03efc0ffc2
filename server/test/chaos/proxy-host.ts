import { FaultProxy } from '../fault-proxy';

/*
 * The chaos run's fault proxies, in a process of their own: in the runner's process every
 * PostgreSQL round trip of every node would wait on the runner's busy event loop (the generator,
 * the emulator, the agents), which no real network does. Started by remote-proxy.ts; targets
 * come as JSON in argv, commands over IPC.
 */

type Op = 'pass' | 'delay' | 'drop' | 'blackhole' | 'resetAll' | 'heldAnswers' | 'stats';
interface Command {
  id: number;
  name: string;
  op: Op;
  arg?: number;
}

const targets = JSON.parse(process.argv[2] ?? '{}') as Record<
  string,
  { host: string; port: number }
>;
const proxies = new Map<string, FaultProxy>();
for (const [name, target] of Object.entries(targets))
  proxies.set(name, await FaultProxy.start(target));

process.on('message', (raw) => {
  const cmd = raw as Command;
  const proxy = proxies.get(cmd.name);
  let result: unknown = null;
  if (!proxy) result = { error: `no proxy ${cmd.name}` };
  else if (cmd.op === 'pass') proxy.pass();
  else if (cmd.op === 'delay') proxy.delay(cmd.arg ?? 0);
  else if (cmd.op === 'drop') proxy.drop();
  else if (cmd.op === 'blackhole') proxy.blackhole();
  else if (cmd.op === 'resetAll') result = proxy.resetAll();
  else if (cmd.op === 'heldAnswers') result = proxy.heldAnswers();
  else result = proxy.stats;
  process.send?.({ id: cmd.id, result });
});
// The parent going away (even SIGKILLed) closes the IPC channel: nothing may outlive it.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: Object.fromEntries([...proxies].map(([n, p]) => [n, p.port])) });
