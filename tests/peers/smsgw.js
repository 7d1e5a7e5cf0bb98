'use strict';
// smsgw.js — an SMS gateway simulator for tocsin's integration tests, demo
// and benchmarks: a generic HTTP gateway (tocsin's `kind: http`).
//
//   node smsgw.js --port P --log FILE [--mode-file FILE] [--mode MODE]
//
// Listens on 127.0.0.1:P (0 picks a free port) and prints `port=NNNN` as the
// first line of stdout once it listens. Every request is appended to FILE
// as one JSON line {"at","method","path","headers","body","id"} before it is
// answered. What it answers is MODE, or the mode written in --mode-file when
// that file exists (read again for every request, so a test can change the
// gateway's behaviour live):
//   ok             200 {"ok":true,"id":"gw-N"}
//   429 SECONDS    429 with Retry-After: SECONDS
//   500            500 {"error":"internal"}
//   hang           never answers (the client's timeout ends it)
//   fail           200 {"ok":false,"error":"rejected by the gateway"}
//   malformed      200 with a body that is not JSON
//   huge           200 with a 4 MiB body of JSON (ok, id) padded with spaces
//   vonage         200 as Vonage's SMS API answers a message it took (status
//                  "0", message-id the id)
//   hold           answers nothing until the mode is no longer hold, then
//                  as that mode says (a test acts while a send is under way)
//   twilio         201 with a Twilio Message resource (sid SM + 32 hex digits)
//   401            401 with a Twilio error (code 20003, "Authenticate")
//   echo [CODE]    CODE (default 200) with an error that quotes the request's
//                  Authorization header and body, in the shapes of Twilio
//                  (message), Vonage (a part's error-text) and a generic
//                  gateway (ok false): a provider that echoes credentials
//
// What it keeps true: a request is answered only after its log line has been
// handed to the operating system. SIGTERM or SIGINT stops listening, drops
// connections (hanging ones too), flushes the log and exits 0.

const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');

const USAGE = 'usage: node smsgw.js --port P --log FILE [--mode-file FILE] [--mode MODE]';
const MAX_BODY = 1024 * 1024;

function die(message) {
  process.stderr.write(`smsgw: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' }, log: { type: 'string' },
      'mode-file': { type: 'string' }, mode: { type: 'string', default: 'ok' },
    },
  }).values;
} catch (e) {
  die(e.message);
}
if (args.port === undefined || !args.log) die('--port and --log are required');

const log = fs.createWriteStream(args.log, { flags: 'a' });
let count = 0;
const sockets = new Set();

function mode() {
  if (args['mode-file']) {
    try {
      return fs.readFileSync(args['mode-file'], 'utf8').trim();
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  return args.mode;
}

function answer(res, m, id, req, body) {
  const [word, arg] = m.split(/\s+/);
  const json = (code, obj, headers = {}) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(obj));
  };
  const n = id.slice(3).padStart(14, '0'); // this request's number, for provider ids
  switch (word) {
    case 'ok': return json(200, { ok: true, id });
    case '429': return json(429, { error: 'slow down' }, { 'retry-after': arg || '1' });
    case '500': return json(500, { error: 'internal' });
    case 'hang': return undefined;
    case 'hold': {
      const later = () => {
        const now = mode();
        if (now.split(/\s+/)[0] === 'hold') setTimeout(later, 50);
        else if (!res.destroyed) answer(res, now, id, req, body);
      };
      return setTimeout(later, 50);
    }
    case 'vonage':
      return json(200, {
        'message-count': '1',
        messages: [{ to: '0', 'message-id': id.replace(/[^0-9]/g, '') + 'AB', status: '0' }],
      });
    case 'twilio':
      return json(201, { sid: `SM${n.padStart(32, '0')}`, status: 'queued' });
    case '401':
      return json(401, { code: 20003, message: 'Authenticate', status: 401 });
    case 'echo': {
      const echo = `refused ${req.headers.authorization || ''} ${body}`;
      return json(Number(arg || 200), {
        ok: false, code: 20003, message: echo, messages: [{ status: '4', 'error-text': echo }],
      });
    }
    case 'fail': return json(200, { ok: false, error: 'rejected by the gateway' });
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"ok": tru');
    case 'huge': {
      res.writeHead(200, { 'content-type': 'application/json' });
      const head = JSON.stringify({ ok: true, id });
      return res.end(head.slice(0, -1) + ' '.repeat(4 << 20) + '}');
    }
    default: return json(500, { error: `smsgw: unknown mode ${m}` });
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    count += 1;
    const id = `gw-${count}`;
    const line = JSON.stringify({
      at: Date.now(), method: req.method, path: req.url, headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'), id,
    }) + '\n';
    const m = mode();
    log.write(line, () => answer(res, m, id, req, Buffer.concat(chunks).toString('utf8')));
  });
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.keepAliveTimeout = 60000;
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`port=${server.address().port}\n`);
});

function stop() {
  server.close();
  for (const s of sockets) s.destroy();
  log.end(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
