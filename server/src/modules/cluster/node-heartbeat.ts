import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AppContext } from '../../context';

/** How often a node writes its heartbeat. */
export const BEAT_MS = 1_000;
/** A node whose last beat is older than this is dead: its claimed jobs are taken over. */
export const DEAD_MS = 5_000;
/** Rows of nodes silent this long are deleted (no lease outlives them). */
const FORGET_MS = 3600_000;
const FORGET_EVERY_BEATS = 60;

/**
 * Where a PID means something: the host name and the PID namespace (two containers may share a
 * host name, never a namespace). Null where the namespace cannot be read (not Linux): then PIDs
 * are never checked and only the heartbeat's age counts.
 */
function hostKey(): string | null {
  try {
    return `${hostname()}|${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists too. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface NodeRow {
  id: string;
  nodeId: string;
  host: string;
  pid: number;
  beatAt: number;
}

/**
 * This process's row in `cluster_nodes`, beaten every second, and the judge of which other
 * processes are dead. A process is dead when:
 * - it ran on this host (same PID namespace) and its PID is gone: a restart on the same machine
 *   (the embedded SQLite case, or a crashed peer) takes over its jobs at once; or
 * - its last beat is older than DEAD_MS (a crash elsewhere, a freeze, a cut from the database);
 * - or it has this process's node id and is not alive on this host: node ids name one running
 *   process, so that is the previous incarnation, killed before it could say goodbye.
 * The instance id is new on every start, so a restart is never mistaken for its predecessor.
 * Taken for dead while alive (frozen for seconds), a node loses its jobs but cannot double a
 * send: every write it makes to a job names its claim, which the taker has replaced.
 */
export class NodeHeartbeat {
  readonly instanceId: string;
  readonly startedAt: number;
  private readonly host = hostKey();
  private timer: NodeJS.Timeout | null = null;
  private beats = 0;
  private failing = false;
  private dead: { at: number; ids: string[] } | null = null;
  private readonly warned = new Set<string>();

  constructor(private readonly ctx: AppContext) {
    this.instanceId = `${ctx.config.nodeId}.${randomBytes(4).toString('hex')}`;
    this.startedAt = ctx.now();
  }

  /** Writes the first beat (before any job is claimed under this id), then beats every second. */
  async start(): Promise<void> {
    await this.insert();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
    this.timer.unref();
  }

  /** Stops beating and removes the row: a node that left cleanly holds no jobs. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ctx.db
      .deleteFrom('clusterNodes')
      .where('id', '=', this.instanceId)
      .execute()
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'node heartbeat row not removed'));
  }

  private async insert(): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('clusterNodes')
      .values({
        id: this.instanceId,
        nodeId: this.ctx.config.nodeId,
        host: this.host ?? '',
        pid: process.pid,
        startedAt: this.startedAt,
        beatAt: now,
      })
      .execute();
  }

  /** One beat; a failure is logged once until a beat succeeds again (the database is down). */
  private async beat(): Promise<void> {
    try {
      const now = this.ctx.now();
      const res = await this.ctx.db
        .updateTable('clusterNodes')
        .set({ beatAt: now })
        .where('id', '=', this.instanceId)
        .executeTakeFirst();
      // Forgotten after a long freeze: come back under the same id.
      if (Number(res.numUpdatedRows) === 0) await this.insert();
      if (++this.beats % FORGET_EVERY_BEATS === 0) {
        await this.ctx.db
          .deleteFrom('clusterNodes')
          .where('beatAt', '<', now - FORGET_MS)
          .execute();
      }
      if (this.failing) this.ctx.log.info('node heartbeat written again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) {
        this.ctx.log.warn(
          { err, instanceId: this.instanceId },
          'node heartbeat not written; other nodes take over our jobs if this lasts',
        );
      }
      this.failing = true;
    }
  }

  /** Instance ids of the dead processes that may still hold jobs; cached for one beat. */
  async deadInstances(): Promise<string[]> {
    const now = this.ctx.now();
    if (this.dead && now - this.dead.at < BEAT_MS) return this.dead.ids;
    const rows: NodeRow[] = await this.ctx.db
      .selectFrom('clusterNodes')
      .select(['id', 'nodeId', 'host', 'pid', 'beatAt'])
      .where('id', '!=', this.instanceId)
      .execute();
    const ids = rows.filter((r) => this.isDead(r, now)).map((r) => r.id);
    this.dead = { at: now, ids };
    return ids;
  }

  private isDead(row: NodeRow, now: number): boolean {
    const pid = Number(row.pid);
    // On this host the PID answers for sure; elsewhere (null) only the heartbeat can.
    const alive =
      this.host !== null && row.host === this.host ? pid === process.pid || pidAlive(pid) : null;
    if (alive === false || Number(row.beatAt) < now - DEAD_MS) return true;
    if (row.nodeId !== this.ctx.config.nodeId) return false;
    if (alive === null) return true;
    if (pid !== process.pid && !this.warned.has(row.id)) {
      this.warned.add(row.id);
      this.ctx.log.warn(
        { nodeId: row.nodeId, pid },
        'another running process uses this node id; give every node its own KEFU_NODE_ID',
      );
    }
    return false;
  }
}
