import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from './ipc';
import { rssOf } from './lib';

/*
 * The raw baselines that speak HTTP and WebSocket, in their own process:
 * - bare `node:http`: reads each POST body and answers `success` (G1, and the generator check);
 * - a raw ws relay: a POST with `?bid=N` is answered and then relayed as the configured number
 *   of frames, of the configured sizes, to every socket (G3, G4), each frame serialized once;
 * - an idle ws server: greets each socket and answers its resume like Kefu does (G6, G7).
 * Nothing here authenticates, stores or filters: it is the floor Kefu is compared with.
 */
let frameSizes: number[] = [];
let seq = 0;
const sockets = new Set<WebSocket>();

function relayFrames(bid: string): Buffer[] {
  return frameSizes.map((size, k) => {
    const frame = {
      type: 'event',
      seq: ++seq,
      event: {
        name: k === 0 ? 'message.created' : 'conversation.updated',
        data: { text: `B#${bid}#`, pad: '' },
      },
      at: Date.now(),
    };
    const bare = JSON.stringify(frame).length;
    frame.event.data.pad = 'x'.repeat(Math.max(0, size - bare));
    return Buffer.from(JSON.stringify(frame));
  });
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('success');
    const bid = /[?&]bid=(\d+)/.exec(req.url ?? '')?.[1];
    if (bid === undefined || frameSizes.length === 0) return;
    // Serialized once, the same bytes written to every socket.
    for (const data of relayFrames(bid)) for (const ws of sockets) ws.send(data, { binary: false });
  });
});
server.keepAliveTimeout = 60_000;

const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
  ws.on('error', () => sockets.delete(ws));
  ws.send(JSON.stringify({ type: 'hello', seq, agentId: 'raw' }));
  ws.on('message', () => ws.send(JSON.stringify({ type: 'resumed', seq, replayed: 0 })));
});

serve({
  listen: () =>
    new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : 0;
        resolve({ url: `http://127.0.0.1:${port}`, pid: process.pid });
      }),
    ),
  /** Frames per relayed request and their sizes in bytes (what Kefu was seen sending). */
  configureRelay(sizes: number[]) {
    frameSizes = sizes;
  },
  memory() {
    (globalThis as { gc?: () => void }).gc?.();
    return { ...process.memoryUsage(), rss: rssOf(process.pid) };
  },
  sockets: () => sockets.size,
});
