'use strict';
// receiver.js — a Standard Webhooks receiver for tocsin's demo, integration
// tests and benchmarks.
//
//   node receiver.js --port P --secret whsec_... --log FILE
//                    [--status CODE] [--status-file FILE] [--max-body BYTES]
//
// Listens on 127.0.0.1:P (0 picks a free port) and prints `port=NNNN` as the
// first line of stdout once it listens. Every request is appended to FILE as
// one JSON line:
//   {"method","path","headers":{lower-case name: value},"body","body_b64",
//    "verified","verify_error","at"}
// and verified with the Standard Webhooks reference library on the raw body.
// Answers: 401 when verification fails, 413 past --max-body, otherwise CODE
// (default 204), or the code written in --status-file when that file exists
// ("CODE", or "CODE SECONDS" to add a Retry-After header, or
// "CODE Retry-After: VALUE" to send VALUE as it is, whatever it says: a
// peer's garbage, for the tests of what tocsind does with it)
// (read again for every request, so a test can change behaviour live).
// Every answer has an empty body.
//
// What it keeps true: a request is answered only after its log line has been
// handed to the operating system, so whoever saw the answer can read the line.
// The log is one fs.WriteStream (batched writes, no synchronous I/O per
// request). SIGTERM or SIGINT stops listening, drops idle connections,
// flushes the log and exits 0.

const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');
const { Webhook } = require('standardwebhooks');

const USAGE = 'usage: node receiver.js --port P --secret whsec_... --log FILE ' +
    '[--status CODE] [--status-file FILE] [--max-body BYTES]';
const DEFAULT_MAX_BODY = 1024 * 1024;       // bytes of request body kept
const LOG_HIGH_WATER_MARK = 1024 * 1024;    // bytes buffered before writev

function die(code, message) {
  process.stderr.write(`receiver: ${message}\n`);
  process.exit(code);
}

// "CODE" or "CODE SECONDS": the second form also sends Retry-After; so does
// "CODE Retry-After: VALUE", with VALUE (printable ASCII, at most 200
// characters) sent as written.
function parseStatus(text, what) {
  const raw = /^\s*([1-5][0-9][0-9]) Retry-After: ?([\x20-\x7e]{0,200})\n?$/i.exec(text);
  if (raw) {
    return { code: Number(raw[1]), retryAfter: raw[2] };
  }
  const m = /^\s*([1-5][0-9][0-9])(?:\s+([0-9]{1,6}))?\s*$/.exec(text);
  if (!m) {
    return { error: `${what}: not an HTTP status code '${String(text).slice(0, 40)}'` };
  }
  return { code: Number(m[1]), retryAfter: m[2] === undefined ? null : m[2] };
}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        secret: { type: 'string' },
        log: { type: 'string' },
        status: { type: 'string' },
        'status-file': { type: 'string' },
        'max-body': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    die(2, `${err.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  for (const name of ['port', 'secret', 'log']) {
    if (values[name] === undefined) die(2, `--${name} is required\n${USAGE}`);
  }
  const port = Number(values.port);
  if (!/^[0-9]+$/.test(values.port) || port > 65535) {
    die(2, `--port: not a port number '${values.port}'`);
  }
  let status = 204;
  if (values.status !== undefined) {
    const parsed = parseStatus(values.status, '--status');
    if (parsed.error) die(2, parsed.error);
    status = parsed.code;
  }
  let maxBody = DEFAULT_MAX_BODY;
  if (values['max-body'] !== undefined) {
    maxBody = Number(values['max-body']);
    if (!/^[0-9]+$/.test(values['max-body']) || maxBody < 1) {
      die(2, `--max-body: not a positive byte count '${values['max-body']}'`);
    }
  }
  return {
    port,
    secret: values.secret,
    log: values.log,
    status,
    statusFile: values['status-file'],
    maxBody,
  };
}

function makeWebhook(secret) {
  try {
    return new Webhook(secret);
  } catch (err) {
    // Never echo the secret itself.
    return die(2, `--secret: not a usable whsec_ secret (${err.message})`);
  }
}

// The answer for a verified request: the status file's code when the file
// exists and holds one, else the --status code. Warns once per bad content.
function makeStatusSource(opts) {
  let lastWarning = null;
  return async function statusFor() {
    if (!opts.statusFile) return opts.status;
    let text;
    try {
      text = await fs.promises.readFile(opts.statusFile, 'utf8');
    } catch (err) {
      if (err.code === 'ENOENT') return opts.status;
      throw err;
    }
    const parsed = parseStatus(text, opts.statusFile);
    if (parsed.error) {
      if (parsed.error !== lastWarning) {
        process.stderr.write(`receiver: ${parsed.error}, answering ${opts.status}\n`);
        lastWarning = parsed.error;
      }
      return opts.status;
    }
    return parsed.retryAfter === null ? parsed.code : parsed;
  };
}

function verify(webhook, body, headers) {
  try {
    webhook.verify(body, headers);
    return null;
  } catch (err) {
    if (err instanceof SyntaxError) {
      // The library parses the body as JSON after the signature matched.
      return `signature valid but body is not JSON: ${err.message}`;
    }
    return err.message || String(err);
  }
}

function main() {
  const opts = parseOptions(process.argv.slice(2));
  const webhook = makeWebhook(opts.secret);
  const statusFor = makeStatusSource(opts);
  const log = fs.createWriteStream(opts.log, {
    flags: 'a',
    highWaterMark: LOG_HIGH_WATER_MARK,
  });
  log.on('error', (err) => die(1, `log '${opts.log}': ${err.message}`));

  // code: a status, or { code, retryAfter } from the status file.
  function answer(res, code) {
    if (res.destroyed) return;
    const headers = {};
    if (typeof code === 'object') {
      headers['retry-after'] = code.retryAfter;
      code = code.code;
    }
    if (code !== 204 && code !== 304) headers['content-length'] = '0';
    res.writeHead(code, headers);
    res.end();
  }

  function record(req, res, at, chunks, size, tooLarge) {
    if (log.writableEnded) {
      answer(res, 503);
      return;
    }
    const raw = Buffer.concat(chunks, size);
    let error;
    if (tooLarge) {
      error = `body larger than --max-body ${opts.maxBody} bytes`;
    } else {
      error = verify(webhook, raw, req.headers);
    }
    const line = JSON.stringify({
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: raw.toString('utf8'),
      body_b64: raw.toString('base64'),
      verified: error === null,
      verify_error: error,
      at,
    }) + '\n';
    const codePromise = error === null ? statusFor() : Promise.resolve(tooLarge ? 413 : 401);
    log.write(line, () => {
      codePromise.then((code) => answer(res, code), (err) => {
        process.stderr.write(`receiver: status file: ${err.message}, answering 500\n`);
        answer(res, 500);
      });
    });
  }

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      if (tooLarge) return;
      if (size + chunk.length > opts.maxBody) {
        tooLarge = true;
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => record(req, res, at, chunks, size, tooLarge));
    req.on('error', () => res.destroy());
  });
  // Longer than any client's idle pool timeout, so a client never reuses a
  // connection at the moment the server closes it.
  server.keepAliveTimeout = 65 * 1000;
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  server.on('error', (err) => die(1, `listen 127.0.0.1:${opts.port}: ${err.message}`));

  let stopping = false;
  function stop() {
    if (stopping) return;
    stopping = true;
    // Busy connections get a moment to be answered, then are cut; the log is
    // closed (flushed) once the last connection is gone.
    server.close(() => log.end(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  log.on('open', () => {
    server.listen(opts.port, '127.0.0.1', () => {
      process.stdout.write(`port=${server.address().port}\n`);
    });
  });
}

main();
