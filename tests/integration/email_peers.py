"""SMTP servers for the email tests, on loopback, stopped by PID with the
Env: postfix's smtp-sink (content, injected failures) and Debian's aiosmtpd
(tests/peers/smtpd.py: STARTTLS, AUTH, one recipient refused)."""

import email
import email.policy
import glob
import json
import os
import socket
import subprocess
import threading

from harness import PEERS, wait_for

SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_sink(env, *opts):
    """smtp-sink on an ephemeral loopback port, dumping each message to
    sink/ (with -d), with opts (e.g. "-f", "RCPT" to refuse every RCPT).
    Returns (port, dump folder)."""
    dump = os.path.join(env.dir, "sink")
    os.makedirs(dump, exist_ok=True)
    for _ in range(20):
        port = free_port()
        p = env.spawn([SMTP_SINK, "-u", "root", "-d", dump + "/m.", *opts,
                       f"127.0.0.1:{port}", "64"], "smtp-sink.log")
        wait_for(lambda: listening(port) or p.poll() is not None, 10, "smtp-sink")
        if p.poll() is None:
            return port, dump
    raise AssertionError("smtp-sink did not start")


def start_smtpd(env, *opts, password=None):
    """tests/peers/smtpd.py (aiosmtpd) with opts. Returns (port, dump)."""
    dump = os.path.join(env.dir, "smtpd")
    e = dict(os.environ)
    if password:
        e["SMTPD_PASSWORD"] = password
    p = env.spawn(["/usr/bin/python3", os.path.join(PEERS, "smtpd.py"), "--dump", dump,
                   *opts], "smtpd.log", env=e, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode().strip()
    assert line.startswith("port="), f"smtpd said {line!r}"
    return int(line[5:]), dump


def make_cert(env, name="localhost"):
    """A self-signed certificate for name. Returns (cert, key) paths."""
    cert, key = os.path.join(env.dir, f"{name}.crt"), os.path.join(env.dir, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    return cert, key


def sink_messages(dump):
    """Every message smtp-sink dumped, parsed by Python's email package."""
    out = []
    for path in sorted(glob.glob(os.path.join(dump, "m.*"))):
        with open(path, "rb") as f:
            out.append(email.message_from_bytes(f.read(), policy=email.policy.default))
    return out


def smtpd_messages(dump):
    """[(envelope, parsed message)] of what smtpd.py accepted so far."""
    out = []
    for meta in sorted(glob.glob(os.path.join(dump, "*.json"))):
        with open(meta) as f:
            env = json.load(f)
        with open(meta[:-5] + ".eml", "rb") as f:
            out.append((env, email.message_from_bytes(f.read(), policy=email.policy.default)))
    return out


class HostileSmtp:
    """A raw SMTP server on loopback that misbehaves: "silent" accepts and
    never says a word; "endless" greets, then answers EHLO with "250-"
    lines without end (until the client goes). Runs in this process's
    threads; close() stops it. counts["bytes"] is what it wrote."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.counts = {"conns": 0, "bytes": 0}
        self.stopping = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.counts["conns"] += 1
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "silent":
                while c.recv(4096):
                    pass
                return
            c.sendall(b"220 hostile ESMTP\r\n")
            c.recv(4096)  # EHLO
            line = b"250-" + b"x" * 1000 + b"\r\n"
            while not self.stopping:
                c.sendall(line)
                self.counts["bytes"] += len(line)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
