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
