import type { Db, Tx } from '../db/index';

/** Runs work after the transaction commits (publishing events, kicking workers). */
export type AfterCommit = (fn: () => void | Promise<void>) => void;

/**
 * Runs `fn` in a transaction and, only once it has committed, the callbacks it registered with
 * `after`. A rollback drops them, so nothing is announced that did not happen. A failing
 * callback is reported to `onHookError` (the app's logger) and does not stop the others: the
 * transaction has committed either way.
 */
export async function inTransaction<T>(
  db: Db,
  fn: (tx: Tx, after: AfterCommit) => Promise<T>,
  onHookError: (err: unknown) => void,
): Promise<T> {
  const hooks: (() => void | Promise<void>)[] = [];
  const result = await db.transaction().execute((tx) => fn(tx, (h) => hooks.push(h)));
  for (const hook of hooks) {
    try {
      await hook();
    } catch (err) {
      onHookError(err);
    }
  }
  return result;
}
