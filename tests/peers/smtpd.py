#!/usr/bin/python3
"""An SMTP server for tests and the demo: Debian's aiosmtpd on loopback.

Prints "port=N" once it listens (give --port 0 for an ephemeral port), then
writes each message it accepts to --dump DIR as <n>.eml (the data exactly
as received, after dot-unstuffing) beside <n>.json (envelope sender,
recipients, whether the session used TLS and AUTH). A file appears whole:
it is written under a temporary name and renamed.

  --tls CERT KEY      offer STARTTLS with this certificate
  --require-tls       refuse MAIL before STARTTLS (530)
  --auth USER         require AUTH (PLAIN, LOGIN) as USER, its password
                      from $SMTPD_PASSWORD; only over TLS; each attempt's
                      verdict and login (never the password) is appended to
                      DUMP/auth.txt as "ok LOGIN" or "refused LOGIN"
  --reject ADDR       answer RCPT TO:<ADDR> with 550 5.1.1 (repeatable)
  --max-per-conn N    answer the MAIL of a connection's message N+1 with
                      "421 4.7.0 Too many messages in this connection",
                      append its sender to DUMP/refused.txt and close
  --throttle          answer every RCPT with "454 4.7.0 Throttling failure"
                      (as Amazon SES does) and append the time of each, in
                      ms since the epoch, to DUMP/throttled.txt
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, dump, reject, throttle, max_per_conn=0):
        self.max_per_conn = max_per_conn
        self.dump = dump
        self.reject = {a.lower() for a in reject}
        self.throttle = throttle
        self.n = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        n = getattr(session, "tc_messages", 0) + 1
        session.tc_messages = n
        if self.max_per_conn and n > self.max_per_conn:
            with open(os.path.join(self.dump, "refused.txt"), "a") as f:
                f.write(address + "\n")
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.7.0 Too many messages in this connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.throttle:
            with open(os.path.join(self.dump, "throttled.txt"), "a") as f:
                f.write("%d\n" % int(time.time() * 1000))
            return "454 4.7.0 Throttling failure: Maximum sending rate exceeded."
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.dump, "%06d" % self.n)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "auth": session.authenticated or False}
        for ext, data in ((".eml", envelope.original_content),
                          (".json", json.dumps(meta).encode())):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 2.0.0 Ok: queued as Q%06d" % self.n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--auth")
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--throttle", action="store_true")
    ap.add_argument("--max-per-conn", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.dump, exist_ok=True)
    password = os.environ.get("SMTPD_PASSWORD", "")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode() == a.auth and
              auth_data.password.decode() == password)
        with open(os.path.join(a.dump, "auth.txt"), "a") as f:
            f.write("%s %s\n" % ("ok" if ok else "refused", auth_data.login.decode()))
        # handled=False: aiosmtpd answers a refusal with 535 itself (with
        # True, its default, nothing is answered and the client waits).
        return AuthResult(success=ok, handled=False)

    kw = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw["tls_context"] = ctx
        kw["require_starttls"] = a.require_tls
    if a.auth:
        kw["authenticator"] = authenticator
        kw["auth_require_tls"] = True
        kw["auth_required"] = True
    # aiosmtpd's Controller checks it is up by connecting to its port, so
    # it needs a real one: take one the kernel hands out, retry if taken.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    for attempt in range(20):
        port = a.port or free_port()
        c = Controller(Handler(a.dump, a.reject, a.throttle, a.max_per_conn), hostname="127.0.0.1", port=port,
                       ready_timeout=30, server_hostname="localhost", **kw)
        try:
            c.start()
            break
        except OSError:
            if a.port or attempt == 19:
                raise
    print("port=%d" % port, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    c.stop()


if __name__ == "__main__":
    main()
