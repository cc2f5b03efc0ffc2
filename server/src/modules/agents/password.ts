import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt's cost: N (CPU/memory, a power of two), r (block size), p (parallelism). */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP's current minimum for scrypt: N=2^17, r=8, p=1 (128 MiB, a few hundred ms). */
export const DEFAULT_COST = 17;
/** The parameters of hashes written before they were stored in the hash (`scrypt$salt$hash`). */
const LEGACY: ScryptParams = { N: 2 ** 14, r: 8, p: 1 };
// A stored hash is trusted data, but a corrupted or hostile row must not make a login allocate
// gigabytes: parameters above these are refused, never computed.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/** Counts key derivations, so tests can check that every sign-in does the same work. */
export const derivations = { count: 0, last: null as ScryptParams | null };

/** The parameters for a cost (log2 of N; r=8, p=1). */
export function paramsFor(cost: number): ScryptParams {
  return { N: 2 ** cost, r: 8, p: 1 };
}

function derive(
  password: string,
  salt: Buffer,
  len: number,
  params: ScryptParams,
): Promise<Buffer> {
  derivations.count += 1;
  derivations.last = params;
  // Node refuses to use more than 32 MiB by default; scrypt needs 128 * N * r bytes (plus a
  // little), so allow twice that.
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, len, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** scrypt with a random salt and its parameters: `scrypt$N=131072,r=8,p=1$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const params = paramsFor(cost);
  const salt = randomBytes(16);
  const hash = await derive(password, salt, 32, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function parseParams(text: string): ScryptParams | null {
  const m = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(text);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  return { N, r, p };
}

function parse(stored: string): Parsed | null {
  const parts = stored.split('$');
  if (parts[0] !== 'scrypt') return null;
  const [params, salt, hash] =
    parts.length === 3
      ? [LEGACY, parts[1], parts[2]]
      : [parseParams(parts[1] ?? ''), parts[2], parts[3]];
  if (parts.length > 4 || !params || !salt || !hash) return null;
  return { params, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/** Checks a password against either format (old hashes have implicit N=16384, r=8, p=1). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.hash.length < 16) return false;
  const actual = await derive(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(actual, parsed.hash);
}

/** Whether a stored hash is weaker than `cost` (or unreadable), so the next sign-in rewrites it. */
export function needsRehash(stored: string, cost = DEFAULT_COST): boolean {
  const parsed = parse(stored);
  const want = paramsFor(cost);
  return !parsed || parsed.params.N < want.N || parsed.params.r < want.r;
}

/**
 * A hash no password matches, at `cost`: unknown logins are checked against it, so they cost
 * the same scrypt work as known ones and the answer time does not tell which logins exist.
 */
export function dummyHash(cost = DEFAULT_COST): string {
  const { N, r, p } = paramsFor(cost);
  const [salt, hash] = [randomBytes(16), randomBytes(32)];
  return `scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}
