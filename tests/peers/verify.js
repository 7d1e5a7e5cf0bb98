'use strict';
// verify.js — summarise a receiver.js log.
//
//   node verify.js [--secret whsec_...] --log FILE
//
// Prints one JSON line: {"requests":N,"verified":N,"failed":N,"ids_unique":N}
//   requests    lines in the log (one per request the receiver saw)
//   verified    requests whose Standard Webhooks signature is valid
//   failed      requests - verified
//   ids_unique  distinct webhook-id values among the verified requests
//               (verified - ids_unique = duplicate deliveries)
// With --secret, every line is verified again from its raw bytes (body_b64)
// and headers with the reference library's signing, and the timestamp is
// judged against the moment the receiver logged it ("at"), not against now, so
// an old log gives the same verdict the receiver gave live. Without --secret
// the receiver's own verdict ("verified") is counted.
// Exit codes: 0 summary printed, 1 the log is unreadable or has a bad line,
// 2 usage.

const crypto = require('node:crypto');
const fs = require('node:fs');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const { Webhook } = require('standardwebhooks');

const USAGE = 'usage: node verify.js [--secret whsec_...] --log FILE';
const TOLERANCE_SECONDS = 5 * 60;   // the library's timestamp tolerance

function die(code, message) {
  process.stderr.write(`verify: ${message}\n`);
  process.exit(code);
}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        secret: { type: 'string' },
        log: { type: 'string' },
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
  if (values.log === undefined) die(2, `--log is required\n${USAGE}`);
  return values;
}

function sameString(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// The receiver's check (Webhook.verify) replayed at the time "at".
function verifyEntry(webhook, entry) {
  const h = entry.headers || {};
  const id = h['webhook-id'];
  const ts = h['webhook-timestamp'];
  const sigs = h['webhook-signature'];
  if (!id || !ts || !sigs) return false;
  const seconds = parseInt(ts, 10);
  if (Number.isNaN(seconds)) return false;
  if (Math.abs(Math.floor(entry.at / 1000) - seconds) > TOLERANCE_SECONDS) return false;
  const raw = Buffer.from(entry.body_b64 || '', 'base64');
  const expected = webhook.sign(id, new Date(seconds * 1000), raw).split(',')[1];
  const match = sigs.split(' ').some((vs) => {
    const [version, sig] = vs.split(',');
    return version === 'v1' && sig !== undefined && sameString(sig, expected);
  });
  if (!match) return false;
  const text = raw.toString('utf8');
  if (text === '') return true;
  try {
    JSON.parse(text);
    return true;
  } catch (err) {
    return false;
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  let webhook = null;
  if (opts.secret !== undefined) {
    try {
      webhook = new Webhook(opts.secret);
    } catch (err) {
      die(2, `--secret: not a usable whsec_ secret (${err.message})`);
    }
  }
  const input = fs.createReadStream(opts.log);
  input.on('error', (err) => die(1, `log '${opts.log}': ${err.message}`));
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  const ids = new Set();
  let requests = 0;
  let verified = 0;
  let lineno = 0;
  for await (const line of lines) {
    lineno += 1;
    if (line === '') continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch (err) {
      die(1, `${opts.log}:${lineno}: not a JSON line (${err.message})`);
    }
    requests += 1;
    const ok = webhook ? verifyEntry(webhook, entry) : entry.verified === true;
    if (ok) {
      verified += 1;
      ids.add(entry.headers['webhook-id']);
    }
  }
  process.stdout.write(JSON.stringify({
    requests,
    verified,
    failed: requests - verified,
    ids_unique: ids.size,
  }) + '\n');
}

main().catch((err) => die(1, err.message));
