import type { FastifyInstance } from 'fastify';
import net, { type AddressInfo } from 'node:net';

/**
 * Listening sockets per port when the platform can share one (see listenKefu). Measured with
 * `npm run bench -- G2` (3x capacity, open loop, new connections on demand): with 8, 500–900
 * of ~25,000 pushes still waited past 4 s in accept queues; with 32, none did.
 */
const ACCEPTORS = 32;

/** SO_REUSEPORT from Node: `reusePort` arrived in 22.12 and 23.1, on Linux (and some BSDs). */
export function reusePortAvailable(): boolean {
  if (process.platform !== 'linux') return false;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 12);
}

function listenOn(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, reusePort: true } as net.ListenOptions, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * `app.listen`, with several accepting sockets on the port.
 *
 * Node accepts at most one connection per listening socket per turn of its event loop. A busy
 * Kefu's turns last tens of milliseconds, so a burst of new connections (WeChat opening many
 * at once, hundreds of consoles reconnecting) fills the kernel's accept queue; past it the
 * kernel drops SYNs and clients retry after 1 s, then 3 s: waits no admission control inside
 * the process can see, which turn a fast 503 into a timeout. With SO_REUSEPORT the kernel
 * spreads new connections over `ACCEPTORS` listening sockets of this one process, each taking
 * one per turn, and every one hands its connections to the same HTTP server. Where the
 * platform lacks it, one listening socket as before.
 */
export async function listenKefu(
  app: FastifyInstance,
  opts: { port: number; host: string },
): Promise<string> {
  if (!reusePortAvailable()) return app.listen(opts);
  const url = await app.listen({ ...opts, reusePort: true } as typeof opts);
  const { port, address } = app.server.address() as AddressInfo;
  for (let i = 1; i < ACCEPTORS; i++) {
    const extra = net.createServer({ noDelay: true }, (socket) => {
      app.server.emit('connection', socket);
    });
    await listenOn(extra, port, address);
    extra.on('error', (err) => app.log.warn({ err }, 'extra listening socket failed'));
    app.kefu.acceptors.push(extra);
  }
  return url;
}
