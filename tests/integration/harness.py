"""Integration test harness: real servers on loopback, stopped by PID.

Each test gets an Env: a private folder, a redis-server on a unix socket in
it, a Standard Webhooks receiver (tests/peers/receiver.js, node) on an
ephemeral 127.0.0.1 port, a generated tocsind configuration, and helpers to
run tocsind and the tocsin CLI. Env.close() stops every process it started
by PID, also when the test failed.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(ROOT, "tests", "peers")


def delivery_id(job, channel, address):
    """The delivery id as DESIGN.md defines it, computed independently."""
    raw = b"tocsin-delivery\0" + job.encode() + b"\0" + channel.encode() + b"\0" + address.encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class GrowingFile:
    """A file another process is still appending lines to (the receiver's
    requests, tocsind's log), read as it grows. Only complete lines count:
    a last line without its newline is still being written, and is left
    for the next read. Each read takes only what was appended since."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.lines = []

    def read(self):
        """Every complete line so far, without its newline; [] while the
        file does not exist. The list is this object's: do not change it."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.lines
        end = data.rfind(b"\n") + 1
        if end:
            # Split on "\n" only: a JSON line may hold U+2028 and the like.
            self.lines.extend(data[:end].decode(errors="replace").split("\n")[:-1])
            self.offset += end
        return self.lines


def job_key(job_id, suffix=""):
    """The Redis key of job job_id's record, or with suffix ("deliveries",
    "events") of its other keys. Tests name job keys only through here."""
    key = f"tocsin:job:{{{job_id}}}"
    return f"{key}:{suffix}" if suffix else key


def now_ms():
    """Now, in milliseconds since the epoch: the clock tocsind, Redis and
    the receiver (its "at") use too."""
    return int(time.time() * 1000)


def epoch_ms(text):
    """Milliseconds since the epoch of a time as tocsind writes it
    (2026-01-01T00:00:00.000Z)."""
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def rfc3339(ms):
    """The time ms (since the epoch) as a job's send_at or expires_at."""
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def wake_now(env, job_id):
    """Makes the sleeping round job_id due now, as its `after` passing
    would: its send_at and its score in tocsin:scheduled."""
    assert env.r.zscore("tocsin:scheduled", job_id) is not None, job_id
    key = f"tocsin:job:{{{job_id}}}"
    job = json.loads(env.r.hget(key, "job"))
    job["send_at"] = rfc3339(now_ms())
    env.r.hset(key, "job", json.dumps(job))
    env.r.zadd("tocsin:scheduled", {job_id: now_ms()}, xx=True)


def wait_for(pred, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# How AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer begin
# a report: the suite runs every C program sanitized, and a report in any
# output fails the test, whatever the test itself looked at.
SANITIZER_MARK = re.compile(r"==\d+==ERROR: (Address|Leak)Sanitizer|"
                            r"\.(c|cc|h):\d+:\d+: runtime error: |"
                            r"SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_lines(text):
    return [line for line in text.splitlines() if SANITIZER_MARK.search(line)][:5]


def sanitizer_reports(folder):
    """The first lines of sanitizer reports in the files under folder
    (their first 8 MiB each)."""
    found = []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    text = f.read(8 << 20).decode("utf-8", "replace")
            except OSError:
                continue
            found += [f"{os.path.relpath(path, folder)}: {line}"
                      for line in sanitizer_lines(text)]
    return found


class Env:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.dir = tempfile.mkdtemp(prefix="tocsin-it-")
        self.procs = []
        self.sanitizer = []         # sanitizer reports found (see close)
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.redis_sock = os.path.join(self.dir, "redis.sock")
        self.redis_proc = None
        self.redis_user = None      # redis.username in the configuration
        self.redis_password = None  # redis.password, from TOCSIN_REDIS_PASSWORD
        self.tocsind_proc = None
        self.extra_env = {}         # more environment for tocsind and the tool
        self.http_port = None       # the listener's, once tocsind started
        self.receiver_port = None
        self.recv_log = os.path.join(self.dir, "received.jsonl")
        self._recv_file = GrowingFile(self.recv_log)
        self._received = []
        self._log_file = GrowingFile(os.path.join(self.dir, "tocsind.log"))
        self.config = os.path.join(self.dir, "tocsin.yaml")
        os.makedirs(os.path.join(self.dir, "templates", "outage"))
        os.makedirs(os.path.join(self.dir, "templates", "security"))

    # ---- processes --------------------------------------------------------
    def spawn(self, argv, log, env=None, stdout=None):
        out = open(os.path.join(self.dir, log), "ab")
        p = subprocess.Popen(argv, stdout=stdout or out, stderr=out, env=env,
                             cwd=self.dir, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self, keep=False):
        """Stops every process started; then self.sanitizer holds what
        sanitizers reported in the folder's files and in the CLI's output
        (a leak found at exit included), empty if nothing."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.sanitizer += sanitizer_reports(self.dir)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- redis ----------------------------------------------------------------
    def start_redis(self, appendonly=False, password=None, socket_perm="700"):
        """password: the default user's (requirepass); the configuration
        written afterwards logs in with it. socket_perm: the unix socket's
        mode (another user's tocsind needs "777")."""
        argv = ["redis-server", "--port", "0", "--unixsocket", self.redis_sock,
                "--unixsocketperm", socket_perm, "--dir", self.dir, "--save", "",
                "--proto-max-bulk-len", "1mb",
                "--appendonly", "yes" if appendonly else "no"]
        if appendonly:
            argv += ["--appendfsync", "always"]
        if password:
            argv += ["--requirepass", password]
            self.redis_password = password
        if os.path.exists(self.redis_sock):
            os.unlink(self.redis_sock)
        self.redis_proc = self.spawn(argv, "redis.log", stdout=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.redis_sock), 10, "redis socket")
        self.r = redis.Redis(unix_socket_path=self.redis_sock, password=password,
                             decode_responses=True)
        wait_for(lambda: self._ping(), 10, "redis ping")
        return self.r

    def _ping(self):
        try:
            return self.r.ping()
        except redis.exceptions.ConnectionError:
            return False

    # ---- receiver -----------------------------------------------------------
    def start_receiver(self, status=204):
        self.status_file = os.path.join(self.dir, "status")
        argv = ["node", os.path.join(PEERS, "receiver.js"), "--port", "0",
                "--secret", self.secret, "--log", self.recv_log,
                "--status", str(status), "--status-file", self.status_file]
        p = self.spawn(argv, "receiver.log", stdout=subprocess.PIPE)
        line = p.stdout.readline().decode().strip()
        assert line.startswith("port="), f"receiver said {line!r}"
        self.receiver_port = int(line[5:])
        return self.receiver_port

    def set_status(self, code):
        """What the receiver answers from now on ("CODE" or "CODE SECONDS").
        The receiver reads the file for every request: it is replaced whole,
        never seen half written."""
        tmp = self.status_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(code))
        os.replace(tmp, self.status_file)

    def hook(self, name):
        return f"http://127.0.0.1:{self.receiver_port}/hooks/{name}"

    def received(self):
        """Every request the receiver has logged so far, oldest first (a
        request is logged before it is answered)."""
        lines = self._recv_file.read()
        self._received.extend(json.loads(line) for line in lines[len(self._received):])
        return list(self._received)

    # ---- tocsind --------------------------------------------------------------
    def write_config(self, groups, in_flight=1000, allow=("127.0.0.0/8",),
                     retry="{attempts: 3, base: 50ms, max: 200ms}", redis_url=None,
                     retention=None, listen="127.0.0.1:0"):
        """retention: dispatcher.retention (default: the product's);
        listen: the HTTP listener's address (default: any free loopback
        port, which start_tocsind reads from the log into http_port)."""
        allow_s = ", ".join(allow)
        keep = f"\n  retention: {retention}" if retention else ""
        serve = f"listen: {listen}\n"
        text = f"""# generated by tests/integration/harness.py
redis:
  url: {redis_url or "unix://" + self.redis_sock}{self._redis_login()}
  prefix: tocsin
dispatcher:
  consumer: it-1
  in_flight: {in_flight}
  shutdown_grace: 5s{keep}
{serve}templates: templates/
channels:
  webhook:
    secret: ${{TOCSIN_WEBHOOK_SECRET}}
    allow: [{allow_s}]
    connect_timeout: 2s
    timeout: 5s
    retry: {retry}
groups:
{groups}
"""
        with open(self.config, "w") as f:
            f.write(text)

    def _redis_login(self):
        text = f"\n  username: {self.redis_user}" if self.redis_user else ""
        if self.redis_password:
            text += "\n  password: ${TOCSIN_REDIS_PASSWORD}"
        return text

    def env(self):
        e = dict(os.environ)
        e["TOCSIN_WEBHOOK_SECRET"] = self.secret
        if self.redis_password:
            e["TOCSIN_REDIS_PASSWORD"] = self.redis_password
        e.pop("TOCSIN_CONFIG", None)
        e.update(self.extra_env)
        return e

    def start_tocsind(self, wrap=()):
        """wrap: a command tocsind runs under (setpriv ...)."""
        # The log is appended to by every start: wait for this one's line.
        before = self.log().count("event=resumed-pending")
        p = self.spawn([*wrap, os.path.join(self.build, "dispatcher", "tocsind"),
                        "-c", self.config], "tocsind.log", env=self.env())
        self.tocsind_proc = p
        wait_for(lambda: self.log().count("event=resumed-pending") > before or
                 p.poll() is not None, 10, "tocsind to start reading")
        assert p.poll() is None, f"tocsind exited {p.returncode}:\n{self.log()}"
        ports = re.findall(r"event=listening listen=\S+ port=(\d+)", self.log())
        self.http_port = int(ports[-1]) if ports else None
        return p

    def log(self):
        """tocsind's log so far (every start appends to it), whole lines."""
        return "".join(line + "\n" for line in self._log_file.read())

    def cli(self, *args, timeout=60, config=True):
        argv = [os.path.join(self.build, "cli", "tocsin")]
        if config:
            argv += ["-c", self.config]
        argv += list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=self.env(), cwd=self.dir)
        self.sanitizer += [f"tocsin {' '.join(args)}: {line}"
                           for line in sanitizer_lines(r.stderr)]
        return r

    def write_roster(self, n, url=None):
        """A CSV roster of n members U0, U1, ..., member i's webhook url(i),
        by default its own path on the receiver. Returns its path."""
        url = url or (lambda i: self.hook(f"u{i}"))
        roster = os.path.join(self.dir, "r.csv")
        with open(roster, "w") as f:
            f.write("name,webhook\n")
            for i in range(n):
                f.write(f"U{i},{url(i)}\n")
        return roster

    def roster_group(self, n, in_flight, group="all", redis_url=None):
        """A configuration with one group of n roster members (U0, U1, ...,
        each with its own webhook path on the receiver)."""
        roster = self.write_roster(n)
        self.write_config(f"  {group}:\n    roster: {roster}\n", in_flight=in_flight,
                          redis_url=redis_url)

    # ---- the record -----------------------------------------------------------
    def job(self, job_id):
        return self.r.hgetall(job_key(job_id))

    def deliveries(self, job_id):
        return {k: json.loads(v) for k, v in
                self.r.hgetall(job_key(job_id, "deliveries")).items()}

    def wait_done(self, job_id, timeout=30):
        wait_for(lambda: self.job(job_id).get("state") == "done", timeout,
                 f"job {job_id} to be done")
        return self.job(job_id)

    def pending(self):
        return sum(self.r.xpending(f"tocsin:jobs:{s}", "tocsind")["pending"]
                   for s in ("critical", "high", "normal", "low"))

    def xadd_job(self, job, severity="normal"):
        """What a monitoring system does: one XADD of the job's JSON."""
        text = job if isinstance(job, str) else json.dumps(job)
        return self.r.xadd(f"tocsin:jobs:{severity}", {"job": text})


def envelope(delivery, job_id, severity, template, group, name, role,
             incident=None, vars=None):
    """The webhook body tocsind sends before templates exist, built here
    independently with Python's json module."""
    vars = vars or {}
    msg = vars.get("message") if isinstance(vars.get("message"), str) else None
    return json.dumps({
        "id": delivery, "job": job_id, "incident": incident, "severity": severity,
        "template": template, "group": group,
        "member": {"name": name, "role": role},
        "message": msg, "vars": vars,
    }, separators=(",", ":"), ensure_ascii=False)


def check_counts(rec):
    """The job record's counts add up to what was planned."""
    planned = int(rec.get("planned", 0))
    states = ["queued", "sending", "sent", "retrying", "delivered", "undelivered",
              "acknowledged", "failed", "expired", "cancelled"]
    # Each count is there from the start (DESIGN.md: one count per delivery
    # state), 0 until something reaches that state.
    missing = [s for s in states if s not in rec]
    assert not missing, f"no count of {missing}: {rec}"
    total = sum(int(rec.get(s, 0)) for s in states)
    assert total == planned, f"state counts {total} != planned {planned}: {rec}"
    for s in states:
        per_channel = sum(int(rec.get(f"{c}.{s}", 0)) for c in ("email", "sms", "webhook"))
        assert per_channel == int(rec.get(s, 0)), f"{s}: per channel {per_channel} != {rec.get(s)}"
        # No count ever goes below zero, on any channel (a restart that
        # moved a count from a state it was not counted in would).
        for k in [s] + [f"{c}.{s}" for c in ("email", "sms", "webhook")]:
            assert int(rec.get(k, 0)) >= 0, f"{k} is {rec.get(k)}: {rec}"
    if rec.get("state") == "done":
        for s in ("queued", "sending", "retrying"):
            assert int(rec.get(s, 0)) == 0, f"done with {s} {rec.get(s)}: {rec}"
