import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Another process (a backup, the sqlite3 shell, `kefu migrate`) holds SQLite's write lock.
 * The locker is a real process holding BEGIN EXCLUSIVE until told to commit.
 */
export function holdLock(
  file: string,
): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
  const script = path.join(path.dirname(file), 'locker.cjs');
  writeFileSync(
    script,
    `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
     const db = new Database(process.argv[2]);
     db.exec('BEGIN EXCLUSIVE');
     process.send('locked');
     process.on('message', () => { db.exec('COMMIT'); db.close(); process.send('released'); });`,
  );
  const child = fork(script, [file], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', () =>
      resolve({
        child,
        release: () =>
          new Promise<void>((done) => {
            child.once('message', () => done());
            child.send('release');
          }),
      }),
    );
  });
}
