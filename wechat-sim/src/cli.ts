/**
 * Standalone emulator: `tsx wechat-sim/src/cli.ts --port 7100 [--host 127.0.0.1]
 * [--apps apps.json] [--seed [--push-url URL]] [--push-timeout-ms 5000] [--public-url URL] [--log]`
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateAppConfig } from './app-config';
import { createSim } from './sim';
import type { AppConfig } from './types';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7100' },
    host: { type: 'string', default: '127.0.0.1' },
    apps: { type: 'string' },
    seed: { type: 'boolean', default: false },
    'push-url': { type: 'string' },
    'push-timeout-ms': { type: 'string' },
    'public-url': { type: 'string' },
    log: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`wechat-sim: a WeChat mini-program platform emulator

  --port N              listen port (default 7100; 0 = any free port)
  --host H              listen address (default 127.0.0.1)
  --apps FILE           JSON array of app configs to add at start
  --seed                add one demo app with generated credentials (printed below)
  --push-url URL        pushUrl of the seeded app
  --push-timeout-ms N   wait per push try before retrying (default 5000)
  --public-url URL      base of PicUrl/ThumbUrl when the listen URL is not reachable
  --log                 Fastify request log`);
  process.exit(0);
}

const sim = await createSim({
  logger: values.log,
  pushTimeoutMs: values['push-timeout-ms'] ? Number(values['push-timeout-ms']) : undefined,
  publicUrl: values['public-url'],
});
if (values.apps) {
  const list = JSON.parse(readFileSync(values.apps, 'utf8')) as AppConfig[];
  for (const app of list) sim.addApp(app);
}
if (values.seed) {
  sim.addApp(generateAppConfig(values['push-url'] ? { pushUrl: values['push-url'] } : {}));
}

const url = await sim.listen(Number(values.port), values.host);
console.log(`wechat-sim listening on ${url}`);
console.log(`  customer page: ${url}/`);
console.log(`  platform base: ${url}  (/cgi-bin/...)`);
for (const app of sim.listApps()) console.log(`  app ${JSON.stringify(app)}`);

const stop = () => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
