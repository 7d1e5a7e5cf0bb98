"""Secrets never leave tocsind (README, "Threat model"): a full scenario runs
with canary secrets, then every log line, every Redis key and value (of
every type, and the append-only file, which keeps what was deleted since)
and every CLI output is searched for each canary in its raw, base64
(standard and URL-safe, with and without padding), hex (lower and upper)
and log-escaped forms, and for its first 12 characters: 0 hits.

The scenario is two lists, so channels still to come join it by adding to
them: SECRETS (name, environment variable, value; the value is what the
configuration references) and STEPS (functions of a Scenario run in
order; each may run CLI commands through sc.cli, whose output is kept).
Email (the SMTP AUTH password), Twilio and Vonage credentials, receipts
and acknowledgements add their secrets and steps here when they work;
today their secrets are loaded, validated and reloaded with the rest.
"""

import base64
import json
import os
import secrets
import signal
import string
import subprocess

import redis

from harness import check_counts, wait_for
from listeners import Listener


def _alnum(n):
    """n random letters and digits: no character any output escapes."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _webhook_key():
    """32 random bytes, none of them ASCII: the decoded whsec_ key, whose
    leak would show as bytes, \\xNN escapes, base64 or hex."""
    return bytes(0x80 + secrets.randbelow(0x80) for _ in range(32))


class Secret:
    def __init__(self, name, env, value, raw=None):
        self.name = name
        self.env = env          # the variable the configuration references, or None
        self.value = value      # the text a user wrote (str)
        self.raw = raw          # bytes it stands for (the webhook key), or None

    def forms(self):
        """(form name, bytes) of everything that would betray it."""
        out = []
        for what, b in (("value", self.value.encode()), ("key", self.raw)):
            if b is None:
                continue
            out += [(f"{what} raw", b), (f"{what} prefix", b[:12]),
                    (f"{what} hex", b.hex().encode()), (f"{what} HEX", b.hex().upper().encode()),
                    (f"{what} escaped", "".join(f"\\x{c:02x}" for c in b).encode()),
                    (f"{what} ESCAPED", "".join(f"\\x{c:02X}" for c in b).encode())]
            for enc, name in ((base64.b64encode, "base64"), (base64.urlsafe_b64encode, "base64url")):
                e = enc(b)
                out += [(f"{what} {name}", e), (f"{what} {name} unpadded", e.rstrip(b"="))]
        return out


def make_secrets():
    key = _webhook_key()
    return [
        Secret("webhook secret", "TOCSIN_WEBHOOK_SECRET",
               "whsec_" + base64.b64encode(key).decode(), raw=key),
        Secret("redis password", "TOCSIN_REDIS_PASSWORD", "rp" + _alnum(30)),
        Secret("ack secret", "TOCSIN_ACK_SECRET", "as" + _alnum(30)),
        Secret("smtp password", "TOCSIN_SMTP_PASSWORD", "sp" + _alnum(30)),
        Secret("twilio auth token", "TWILIO_AUTH_TOKEN", secrets.token_hex(16)),
        Secret("vonage api secret", "VONAGE_API_SECRET", "vs" + _alnum(14)),
        Secret("gateway token", "GATEWAY_TOKEN", "gt" + _alnum(30)),
        # Wrong values, and values a bad configuration holds: they are
        # secrets too, and the errors about them must not show them.
        Secret("wrong redis password", None, "wp" + _alnum(30)),
        Secret("literal smtp password", None, "ls" + _alnum(30)),
        Secret("literal twilio token", None, secrets.token_hex(16)),
        Secret("literal ack secret", None, "la" + _alnum(30)),
        Secret("literal gateway header", None, "lg" + _alnum(30)),
        Secret("literal webhook secret", None, "whsec_" + base64.b64encode(_webhook_key()).decode()),
        Secret("literal in bad YAML", None, "ly" + _alnum(30)),
        Secret("literal too long", None, "lt" + _alnum(3000)),
        Secret("password in redis.url", None, "pu" + _alnum(30)),
        Secret("password in proxy", None, "pp" + _alnum(30)),
        Secret("webhook secret not base64", None, "whsec_!" + _alnum(40)),
        Secret("short ack secret", None, "sa" + _alnum(13)),
        Secret("ack secret with a control", None, "ac" + _alnum(20) + "\x01" + _alnum(10)),
        Secret("ack secret too long", None, "al" + _alnum(3000)),
    ]


def by_name(sc, name):
    return next(s for s in sc.secrets if s.name == name).value


CONFIG = """redis:
  url: {redis_url}
  password: ${{TOCSIN_REDIS_PASSWORD}}
dispatcher:
  consumer: it-1
  shutdown_grace: 5s
listen: 127.0.0.1:0
ack_secret: {ack_secret}
templates: templates/
channels:
  webhook:
    secret: {webhook_secret}
    allow: [127.0.0.0/8]{proxy}
    connect_timeout: 10s
    timeout: 30s
    retry: {{attempts: 3, base: 50ms, max: 200ms}}
  email:
    server: 127.0.0.1:1
    starttls: required
    username: tocsin
    password: {smtp_password}
    from: incidents@example.org
  sms:
    providers:
      - name: twilio-main
        kind: twilio
        base_url: https://twilio.invalid
        account_sid: ${{TWILIO_ACCOUNT_SID}}
        auth_token: {twilio_token}
        from: "+14155550100"
      - name: vonage-backup
        kind: vonage
        base_url: https://vonage.invalid
        api_key: ${{VONAGE_API_KEY}}
        api_secret: ${{VONAGE_API_SECRET}}
        from: Acme
      - name: gateway
        kind: http
        url: https://gateway.invalid/send
        headers: {{Authorization: "Bearer {gateway_token}"}}
        body: '{{"to": "{{{{to}}}}", "text": "{{{{text}}}}"}}'
groups:
  g:
    channels: [webhook]
    members:
{members}
"""

GOOD = {"ack_secret": "${TOCSIN_ACK_SECRET}", "webhook_secret": "${TOCSIN_WEBHOOK_SECRET}",
        "smtp_password": "${TOCSIN_SMTP_PASSWORD}", "twilio_token": "${TWILIO_AUTH_TOKEN}",
        "gateway_token": "${GATEWAY_TOKEN}", "proxy": ""}


class Scenario:
    def __init__(self, env):
        self.env = env
        self.secrets = make_secrets()
        self.outputs = []       # (what, bytes) of every CLI run
        self.peers = {}
        self.extra_env = {}     # variables only some steps set

    def environ(self, **over):
        e = self.env.env()
        for s in self.secrets:
            if s.env:
                e[s.env] = s.value
        e["TWILIO_ACCOUNT_SID"] = "AC" + "0123456789abcdef" * 2
        e["VONAGE_API_KEY"] = "abcd1234"
        e.update(over)
        return e

    def config_text(self, **over):
        env = self.env
        members = "".join(f'      - {{name: {n}, webhook: "{u}"}}\n' for n, u in self.members)
        values = dict(GOOD, redis_url=f"unix://{env.redis_sock}", members=members)
        values.update(over)
        return CONFIG.format(**values)

    def write_config(self, path=None, **over):
        path = path or self.env.config
        with open(path, "w") as f:
            f.write(self.config_text(**over))
        return path

    def cli(self, *args, config=None, expect=None, **envover):
        """Runs tocsin with args, keeps its output; expect: the exit code."""
        argv = [os.path.join(self.env.build, "cli", "tocsin")]
        if config is not False:
            argv += ["-c", config or self.env.config]
        argv += list(args)
        r = subprocess.run(argv, capture_output=True, timeout=60, env=self.environ(**envover),
                           cwd=self.env.dir, stdin=subprocess.DEVNULL)
        self.outputs.append((" ".join(args), r.stdout + r.stderr))
        if expect is not None:
            assert r.returncode == expect, (args, r.returncode, r.stdout, r.stderr)
        return r

    def start_tocsind(self):
        env = self.env
        before = env.log().count("event=resumed-pending")
        # -v: the debug lines are searched too.
        p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-v", "-c", env.config],
                      "tocsind.log", env=self.environ())
        env.tocsind_proc = p
        wait_for(lambda: env.log().count("event=resumed-pending") > before or
                 p.poll() is not None, 20, "tocsind to start reading")
        assert p.poll() is None, f"tocsind exited {p.returncode}:\n{env.log()}"

    def reload(self, event):
        env = self.env
        before = env.log().count(event)
        env.tocsind_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: env.log().count(event) > before, 30, event)


# ---- the steps ----------------------------------------------------------------------

def start(sc):
    env = sc.env
    # Email and SMS are configured (and can send): a job naming no channel
    # needs the template's email and SMS parts, though no member here
    # takes either.
    for part, text in (("email.subject", "Outage: {{service}}\n"),
                       ("email.txt", "{{service}} is down.\n"),
                       ("sms.txt", "{{service}} is down.\n")):
        with open(os.path.join(env.dir, "templates", "outage", part), "w") as f:
            f.write(text)
    env.start_redis(appendonly=True, password=by_name(sc, "redis password"))
    env.secret = by_name(sc, "webhook secret")  # the receiver verifies with it
    env.start_receiver()
    for name, status in (("failing", 503), ("refusing", 404)):
        sc.peers[name] = Listener(status=status)
    sc.members = [("Ok", env.hook("ok")),
                  ("Failing", f"http://127.0.0.1:{sc.peers['failing'].port}/f"),
                  ("Refusing", f"http://127.0.0.1:{sc.peers['refusing'].port}/r")]
    sc.write_config()
    sc.cli("check-config", env.config, config=False, expect=0)
    sc.start_tocsind()


def send_and_track(sc):
    """A job that succeeds for one member, is retried then dead-lettered
    for another, refused by the third; the commands that show it."""
    r = sc.cli("send", "--template", "outage", "--group", "g", "--id", "S1",
               "--incident", "INC-1", "--var", "service=payments", "--wait")
    assert r.returncode == 1, r.stdout + r.stderr  # two failed
    check_counts(sc.env.wait_done("S1"))
    sc.cli("send", "--template", "outage", "--group", "g", "--id", "S2", "--wait", "--json")
    sc.cli("send", "--template", "outage", "--to", sc.env.hook("adhoc"), "--id", "S3",
           "--severity", "critical", "--wait", expect=0)
    for job, code in (("S1", 1), ("S2", 1), ("S3", 0)):  # status 1: a delivery failed
        for json_ in ((), ("--json",)):
            sc.cli("status", job, *json_, expect=code)
            sc.cli("report", job, *json_, expect=0)
    sc.cli("cancel", "S1")
    sc.cli("cancel", "S1", "--json")
    sc.cli("preview", "--template", "outage", "--group", "g", "--channel", "webhook")


def invalid_and_dead(sc):
    """An invalid job dead-lettered by tocsind; the dead-letter commands."""
    env = sc.env
    env.xadd_job({"id": "BAD", "template": "outage", "groups": ["nobody"]})
    wait_for(lambda: any(f.get("job") == "BAD" for _, f in env.r.xrange("tocsin:dead")),
             20, "the invalid job's dead letter")
    sc.cli("dead", "list", expect=0)
    listed = json.loads(sc.cli("dead", "list", "--json", expect=0).stdout)
    assert len(listed) >= 2, listed  # the invalid job, S1's failed deliveries
    for d in listed:
        sc.cli("dead", "show", d["id"], expect=0)
        sc.cli("dead", "show", d["id"], "--json", expect=0)
    delivery = next(d for d in listed if d["kind"] != "job")
    sc.cli("dead", "retry", delivery["id"], "--json")
    job = next(d for d in listed if d["kind"] == "job")
    fixed = os.path.join(env.dir, "fixed.json")
    with open(fixed, "w") as f:
        json.dump({"id": "BAD", "template": "outage", "groups": ["g"]}, f)
    sc.cli("dead", "retry", job["id"], "--job", fixed)
    wait_for(lambda: env.job("BAD").get("state") == "done", 30, "the retried job")
    sc.cli("dead", "purge", "--yes", "--json", expect=0)


def reloads(sc):
    """A good reload, then bad configurations (each refused, also by
    check-config), then the good one again."""
    sc.reload("event=reloaded")
    good = sc.config_text()
    bad = [
        {"smtp_password": by_name(sc, "literal smtp password")},
        {"twilio_token": by_name(sc, "literal twilio token")},
        {"ack_secret": by_name(sc, "literal ack secret")},
        {"gateway_token": by_name(sc, "literal gateway header")},
        {"webhook_secret": by_name(sc, "literal webhook secret")},
        {"smtp_password": '"' + by_name(sc, "literal in bad YAML") + " unterminated"},
        {"smtp_password": by_name(sc, "literal too long")},
        {"proxy": f"\n    proxy: http://u:{by_name(sc, 'password in proxy')}@127.0.0.1:3128"},
        {"redis_url": f"redis://:{by_name(sc, 'password in redis.url')}@127.0.0.1:6379/0"},
    ]
    for over in bad:
        path = sc.write_config(os.path.join(sc.env.dir, "bad.yaml"), **over)
        sc.cli("check-config", path, config=False, expect=1)
        sc.write_config(**over)
        sc.reload("event=reload-refused")
    with open(sc.env.config, "w") as f:
        f.write(good)
    sc.reload("event=reloaded")


def bad_environment(sc):
    """Secrets from the environment that are wrong: each refused by
    check-config and by tocsind at start (exit 1), without being shown."""
    env = sc.env
    cases = [{"TOCSIN_WEBHOOK_SECRET": by_name(sc, "webhook secret not base64")},
             {"TOCSIN_ACK_SECRET": by_name(sc, "short ack secret")},
             {"TOCSIN_ACK_SECRET": by_name(sc, "ack secret with a control")},
             {"TOCSIN_ACK_SECRET": by_name(sc, "ack secret too long")}]
    for over in cases:
        sc.cli("check-config", env.config, config=False, expect=1, **over)
        p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                      "tocsind.log", env=sc.environ(**over))
        assert p.wait(30) == 1, env.log()
    # A wrong Redis password: the tool exits 3, tocsind at start too.
    wrong = {"TOCSIN_REDIS_PASSWORD": by_name(sc, "wrong redis password")}
    sc.cli("status", "S1", expect=3, **wrong)
    sc.cli("dead", "list", "--json", expect=3, **wrong)
    p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                  "tocsind.log", env=sc.environ(**wrong))
    assert p.wait(30) == 3, env.log()


def stop(sc):
    assert sc.env.stop(sc.env.tocsind_proc) == 0, sc.env.log()
    for p in sc.peers.values():
        p.stop()


STEPS = [start, send_and_track, invalid_and_dead, reloads, bad_environment, stop]


# ---- the search ---------------------------------------------------------------------

def redis_dump(sc):
    """Every key and value of every type, as (where, bytes)."""
    r = redis.Redis(unix_socket_path=sc.env.redis_sock, password=by_name(sc, "redis password"))
    out = []
    for key in r.scan_iter(count=1000):
        t = r.type(key).decode()
        out.append((f"key {key!r}", key))
        if t == "string":
            vals = [r.get(key)]
        elif t == "hash":
            vals = [x for kv in r.hgetall(key).items() for x in kv]
        elif t == "list":
            vals = r.lrange(key, 0, -1)
        elif t == "set":
            vals = list(r.smembers(key))
        elif t == "zset":
            vals = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif t == "stream":
            vals = [x for i, f in r.xrange(key) for x in (i, *[y for kv in f.items() for y in kv])]
        else:
            raise AssertionError(f"a key of type {t} nobody searches: {key!r}")
        out += [(f"{t} {key!r}", v) for v in vals if v is not None]
    return out


def files_under(folder, names):
    """(path, bytes) of the files called names (or in folders called so)."""
    out = []
    for name in names:
        path = os.path.join(folder, name)
        paths = ([os.path.join(path, f) for f in sorted(os.listdir(path))]
                 if os.path.isdir(path) else [path])
        for p in paths:
            with open(p, "rb") as f:
                out.append((p, f.read()))
    return out


def test_no_secret_reaches_logs_redis_or_output(env):
    sc = Scenario(env)
    try:
        for step in STEPS:
            step(sc)
        places = [(f"cli: tocsin {what}", out) for what, out in sc.outputs]
        places += redis_dump(sc)
        places += files_under(env.dir, ["tocsind.log", "redis.log", "appendonlydir"])
    finally:
        for p in sc.peers.values():
            p.stop()
    assert len(sc.outputs) >= 40 and sum(len(b) for _, b in places) > 10000, \
        "the scenario produced less than expected"
    hits = []
    for s in sc.secrets:
        for form, needle in s.forms():
            for where, data in places:
                if needle in data:
                    at = data.index(needle)
                    hits.append(f"{s.name} ({form}) in {where}: "
                                f"{data[max(0, at - 60):at + len(needle) + 20]!r}")
    assert not hits, "\n".join(hits[:20])
    # The scenario did what it says: deliveries of every outcome.
    d = {x["member"]: x for x in env.deliveries("S1").values()}
    assert d["Ok"]["state"] == "delivered" and d["Failing"]["attempts"] == 3, d
    assert d["Refusing"]["state"] == "failed", d
    assert env.log().count("event=reload-refused") == 9, env.log()
