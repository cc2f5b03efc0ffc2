import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

/*
 * The raw baseline of the ws-memory bench, run as its own process: a bare HTTP server with `ws`
 * that greets each socket and answers its resume, then leaves it idle (no auth, no state).
 */
const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, path: '/ws' });
let seq = 0;
wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ type: 'hello', seq, agentId: 'raw' }));
  ws.on('message', () => ws.send(JSON.stringify({ type: 'resumed', seq: ++seq, replayed: 0 })));
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  console.log(`raw ws listening on http://127.0.0.1:${port}`);
});
