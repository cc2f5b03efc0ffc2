import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** One frame as the server sent it (server frames are never masked). */
export interface ServerWireFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Encodes a frame byte by byte, so tests can send what no well-behaved client would. */
export function encodeFrame(
  opcode: number,
  payload: Buffer | string,
  opts: { mask?: boolean; fin?: boolean; rsv?: number } = {},
): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const mask = opts.mask !== false;
  const first = ((opts.fin === false ? 0 : 1) << 7) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (body.length < 126) header = Buffer.from([first, body.length]);
  else if (body.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(body.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(body.length), 2);
  }
  if (!mask) return Buffer.concat([header, body]);
  header[1] = header[1]! | 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(body);
  for (let i = 0; i < masked.length; i++) masked[i] = masked[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

/** A client text frame carrying JSON. */
export const textFrame = (value: unknown) => encodeFrame(0x1, JSON.stringify(value));

/** Splits server bytes into frames; a trailing partial frame is left out. */
export function parseFrames(data: Buffer): ServerWireFrame[] {
  const frames: ServerWireFrame[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const b0 = data[at]!;
    let len = data[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (at + 4 > data.length) break;
      len = data.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (at + 10 > data.length) break;
      len = Number(data.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + len > data.length) break;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      opcode: b0 & 0x0f,
      payload: data.subarray(at + head, at + head + len),
    });
    at += head + len;
  }
  return frames;
}

/** A raw TCP connection that sent an HTTP Upgrade request; it records everything it receives. */
export class RawConn {
  status = 0;
  /** Bytes after the response head (frames, once upgraded). */
  body = Buffer.alloc(0);
  closed = false;
  /** The socket ended without this side ending it first. */
  closedByPeer = false;
  private selfClosed = false;
  private head = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.status === 0) {
        this.head = Buffer.concat([this.head, chunk]);
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.head.toString('latin1'))?.[1] ?? -1);
        this.body = this.head.subarray(end + 4);
      } else this.body = Buffer.concat([this.body, chunk]);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedByPeer = !this.selfClosed;
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `pred` holds (checked after every read and at close). */
  until(pred: () => boolean, timeoutMs = 20_000, what = 'raw socket condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          if (pred()) resolve();
          else reject(new Error(`socket closed before ${what}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  frames(): ServerWireFrame[] {
    return parseFrames(this.body);
  }

  /** The JSON text frames received so far. */
  json(): { type: string; seq?: number; [k: string]: unknown }[] {
    return this.frames()
      .filter((f) => f.opcode === 0x1)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as { type: string; seq?: number });
  }

  /** The close code the server sent, if it sent a close frame. */
  closeCode(): number | null {
    const close = this.frames().find((f) => f.opcode === 0x8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null;
  }

  /** Resolves once the server closed the connection (or rejects after `timeoutMs`). */
  async closedByServer(timeoutMs = 20_000): Promise<void> {
    await this.until(() => this.closed, timeoutMs, 'the server to close the socket');
  }

  write(data: Buffer): void {
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  destroy(): void {
    this.selfClosed = true;
    this.socket.destroy();
  }
}

/** Sends an Upgrade request for `path` (with extra header lines) and resolves once connected. */
export async function rawUpgrade(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawConn> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const conn = new RawConn(socket);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return conn;
}

/** A raw console socket: upgraded with a bearer token, resumed, live (its hello seq returned). */
export async function rawConsole(
  base: string,
  token: string,
): Promise<{ conn: RawConn; seq: number }> {
  const conn = await rawUpgrade(base, '/api/ws', { Authorization: `Bearer ${token}` });
  await conn.until(() => conn.json().some((f) => f.type === 'hello'), 20_000, 'hello');
  const seq = conn.json().find((f) => f.type === 'hello')!.seq!;
  conn.write(textFrame({ type: 'resume', lastSeq: seq }));
  await conn.until(() => conn.json().some((f) => f.type === 'resumed'), 20_000, 'resumed');
  return { conn, seq };
}
