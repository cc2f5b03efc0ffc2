import { parseArgs } from 'node:util';
import { buildApp } from './app';
import { loadConfig } from './config';
import { listenKefu } from './http/listen';
import { openDatabase } from './db/index';
import { createWorkspace } from './modules/admin/workspace-service';

const USAGE = `kefu <command>

  start          run the service (KEFU_* environment, see docs/deploying.md)
  migrate        bring the database schema up to date and exit
  create-owner   --workspace NAME --login LOGIN --password PASSWORD
  demo           Kefu + the WeChat emulator with a demo mini program (the quick start)
`;

async function start(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp(config);
  const stop = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const url = await listenKefu(app, { port: config.port, host: config.host });
  // One plain line that scripts (and the crash test) can wait for.
  console.log(`Kefu listening on ${url}`);
}

/** Node 24 LTS or newer: older lines are past their end of life, and Kefu uses what 24 has. */
const NODE_MAJOR = 24;

async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < NODE_MAJOR) {
    console.error(
      `Kefu needs Node.js ${NODE_MAJOR} or newer; this is ${process.version}. ` +
        `Install Node.js ${NODE_MAJOR} LTS (for example \`npm install --prefix ~/.node24 node@${NODE_MAJOR}\` ` +
        'and put ~/.node24/node_modules/.bin first on PATH), then run this again.',
    );
    process.exitCode = 1;
    return;
  }
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'start':
      return start();
    case 'migrate': {
      const config = loadConfig();
      const db = await openDatabase({
        url: config.databaseUrl,
        dataDir: config.dataDir,
        schema: config.databaseSchema,
      });
      await db.close();
      console.log('Database is up to date.');
      return;
    }
    case 'create-owner': {
      const { values } = parseArgs({
        args: rest,
        options: {
          workspace: { type: 'string' },
          login: { type: 'string' },
          password: { type: 'string' },
        },
      });
      if (!values.workspace || !values.login || !values.password || values.password.length < 8) {
        throw new Error(
          'create-owner needs --workspace, --login and --password (at least 8 characters)',
        );
      }
      const app = await buildApp(loadConfig(), { workers: false, logger: false });
      const { owner } = await createWorkspace(app.kefu.ctx, {
        name: values.workspace,
        login: values.login,
        password: values.password,
      });
      await app.close();
      console.log(`Workspace "${values.workspace}" created; owner ${owner.login} (${owner.id}).`);
      return;
    }
    case 'demo': {
      // Loaded only here: the demo brings the WeChat emulator, which a deployment never needs.
      const { runDemo } = await import('./demo');
      return runDemo();
    }
    default:
      process.stdout.write(USAGE);
      process.exitCode = command ? 1 : 0;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
