// server.js - the Socket.IO 4 peer of Parley's benchmark.
//
// One cluster worker per core (cluster round-robin on one port; websocket
// transport only, so no sticky sessions are needed), rooms shared through
// @socket.io/redis-adapter. It does what Parley does, in Socket.IO's idiom:
//   - a client joins the rooms listed in the handshake query ?ch=a,b
//   - "message" {id, channel, text} (with an ack): the channel's next seq
//     from Redis INCR, io.to(channel).emit("message", {type, channel, seq,
//     text}) to every member on every process, then the ack
//     {ok, reply_to, seq}
//   - "ping" {id} (with an ack): the ack {type: "pong", reply_to: id}
//
//   node server.js --port P --redis-port R [--procs N] [--pid-file F]
// The primary writes "primary,worker,..." pids to the pid file when every
// worker listens. A worker that dies is replaced 3 s later (the storm
// measures how clients move to the survivors before that).
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const port = Number(arg('port', '0'));
const redisPort = Number(arg('redis-port', '6379'));
const procs = Number(arg('procs', String(os.availableParallelism())));
const pidFile = arg('pid-file', '');

function primary() {
  let listening = 0;
  const pids = [process.pid];
  for (let i = 0; i < procs; i++) {
    const w = cluster.fork();
    pids.push(w.process.pid);
    w.on('listening', () => {
      if (++listening === procs && pidFile) {
        fs.writeFileSync(pidFile + '.tmp', pids.join(',') + '\n');
        fs.renameSync(pidFile + '.tmp', pidFile);
      }
    });
  }
  let stopping = false;
  cluster.on('exit', (w, code, sig) => {
    console.error(`socketio-worker-exit pid=${w.process.pid} code=${code} signal=${sig}`);
    // like a supervisor would: a new worker 3 s later (clients have moved by then)
    if (!stopping) setTimeout(() => { if (!stopping) cluster.fork(); }, 3000);
  });
  const stop = () => {
    stopping = true;
    for (const id in cluster.workers) cluster.workers[id].process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function worker() {
  const { Server } = require('socket.io');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const { createClient } = require('redis');

  const pub = createClient({ socket: { host: '127.0.0.1', port: redisPort } });
  const sub = pub.duplicate();
  const store = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect(), store.connect()]);

  const server = http.createServer();
  const io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
    adapter: createAdapter(pub, sub),
  });

  io.on('connection', (socket) => {
    const ch = socket.handshake.query.ch;
    if (typeof ch === 'string' && ch.length > 0) socket.join(ch.split(','));

    socket.on('message', async (m, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      if (!m || typeof m.channel !== 'string' || !socket.rooms.has(m.channel)) {
        reply({ ok: false, reply_to: m && m.id, error: 'not_in_channel' });
        return;
      }
      try {
        const seq = await store.incr('seq:' + m.channel);
        io.to(m.channel).emit('message',
          { type: 'message', channel: m.channel, seq, text: String(m.text) });
        reply({ ok: true, reply_to: m.id, seq });
      } catch (e) {
        reply({ ok: false, reply_to: m.id, error: 'internal_error' });
      }
    });

    socket.on('ping', (m, ack) => {
      if (typeof ack === 'function') ack({ type: 'pong', reply_to: m && m.id });
    });
  });

  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

if (cluster.isPrimary) {
  primary();
} else {
  worker().catch((e) => {
    console.error('socketio-worker-failed', e);
    process.exit(1);
  });
}
