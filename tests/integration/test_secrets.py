"""Secrets never leave tocsind (README, "Threat model"): a full scenario runs
with canary secrets, then every log line (tocsind's, with -v, and
Redis'), every Redis key and value (of every type, and the append-only
file, which keeps what was deleted since), every CLI output, every answer
of tocsind's listener (status line, headers, body) and every message sent
to stakeholders (emails, webhook bodies, SMS texts) is searched for each
canary in its raw, base64 (standard and URL-safe, with and without
padding), hex (lower and upper) and log-escaped forms, for its first 12
characters, and as the credentials carry it (base64 of Basic auth and of
AUTH PLAIN): 0 hits (canary.py). The peers' own logs are not searched:
they see the credentials, as they must; the same search over the SMS
peers' logs is the control, and must find each credential sent to them.

The scenario: webhooks that succeed, retry, fail and are dead-lettered;
email by aiosmtpd over verified STARTTLS with AUTH (the canary password
accepted, a wrong one refused); SMS by Twilio (Basic auth with the canary
token), failed over to Vonage (api_secret) on a 401 and to the generic
gateway (its Authorization header) on a 500, and every provider refusing
with an error that quotes the credentials it was sent (tocsind blanks
them out of answers: the record shows the quote without them);
Twilio status callbacks signed with the token (tampered and wrongly keyed
ones refused), Vonage receipts (another account's refused), a signed SMS
reply answering a poll (an unsigned one refused); acknowledgement pages
(GET, POST with an answer, a wrong answer, twice, a tampered token);
/metrics and /healthz; `status`, `report`, `dead`, `cancel`, `preview`
(webhook, email, SMS) and `check-config`, plain and --json; a reload to
rotated secrets (links made before refused, each peer seeing the new
credential) and back; bad configurations and a bad environment.

It is two lists, so what comes later joins it by adding to them: SECRETS
(make_secrets: name, environment variable, value; the value is what the
configuration references) and STEPS (functions of a Scenario run in
order; each may run CLI commands through sc.cli and requests to the
listener through sc.http, whose outputs are kept for the search).
"""

import base64
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import urllib.parse

from canary import Secret, alnum, files_under, redis_dump, search, webhook_key
from certs import CA
from email_peers import smtpd_messages, start_smtpd
from harness import check_counts, wait_for
from listeners import Listener
from smspeers import Gateway, twilio_signature, twilio_status


SID = "AC" + "0123456789abcdef" * 2   # TWILIO_ACCOUNT_SID
VONAGE_KEY = "abcd1234"                # VONAGE_API_KEY
PUBLIC = "https://tocsin.example.org/base/"
PEOPLE = (("Ada", "ada@example.org", "+14155550101"), ("Bob", "bob@example.org", "+14155550102"))


def make_secrets():
    key = webhook_key()
    twilio = secrets.token_hex(16)
    twilio_2 = secrets.token_hex(16)
    plain = b"\0tocsin\0"  # AUTH PLAIN's prefix for user tocsin
    basic = (SID + ":").encode()
    return [
        Secret("webhook secret", "TOCSIN_WEBHOOK_SECRET",
               "whsec_" + base64.b64encode(key).decode(), raw=key),
        Secret("redis password", "TOCSIN_REDIS_PASSWORD", "rp" + alnum(30)),
        Secret("ack secret", "TOCSIN_ACK_SECRET", "as" + alnum(30)),
        Secret("smtp password", "TOCSIN_SMTP_PASSWORD", "sp" + alnum(30),
               wraps=[("AUTH PLAIN", plain)]),
        Secret("twilio auth token", "TWILIO_AUTH_TOKEN", twilio, wraps=[("basic auth", basic)]),
        Secret("vonage api secret", "VONAGE_API_SECRET", "vs" + alnum(14)),
        Secret("gateway token", "GATEWAY_TOKEN", "gt" + alnum(30)),
        # What a reload turns to (rotated secrets; a wrong SMTP password).
        Secret("rotated ack secret", "TOCSIN_ACK_SECRET_2", "aS" + alnum(30)),
        Secret("rotated twilio auth token", "TWILIO_AUTH_TOKEN_2", twilio_2,
               wraps=[("basic auth", basic)]),
        Secret("rotated vonage api secret", "VONAGE_API_SECRET_2", "vS" + alnum(14)),
        Secret("rotated gateway token", "GATEWAY_TOKEN_2", "gT" + alnum(30)),
        Secret("wrong smtp password", "TOCSIN_SMTP_WRONG", "sw" + alnum(30),
               wraps=[("AUTH PLAIN", plain)]),
        # Wrong values, and values a bad configuration holds: they are
        # secrets too, and the errors about them must not show them.
        Secret("wrong redis password", None, "wp" + alnum(30)),
        Secret("literal smtp password", None, "ls" + alnum(30)),
        Secret("literal twilio token", None, secrets.token_hex(16)),
        Secret("literal ack secret", None, "la" + alnum(30)),
        Secret("literal gateway header", None, "lg" + alnum(30)),
        Secret("literal webhook secret", None, "whsec_" + base64.b64encode(webhook_key()).decode()),
        Secret("literal in bad YAML", None, "ly" + alnum(30)),
        Secret("literal too long", None, "lt" + alnum(3000)),
        Secret("password in redis.url", None, "pu" + alnum(30)),
        Secret("password in proxy", None, "pp" + alnum(30)),
        Secret("webhook secret not base64", None, "whsec_!" + alnum(40)),
        Secret("short ack secret", None, "sa" + alnum(13)),
        Secret("ack secret with a control", None, "ac" + alnum(20) + "\x01" + alnum(10)),
        Secret("ack secret too long", None, "al" + alnum(3000)),
    ]


def by_name(sc, name):
    return next(s for s in sc.secrets if s.name == name).value


def base_url(gw):
    """A simulator as a Twilio or Vonage base_url."""
    return f"http://127.0.0.1:{gw.port}"


CONFIG = """redis:
  url: {redis_url}
  password: ${{TOCSIN_REDIS_PASSWORD}}
dispatcher:
  consumer: it-1
  shutdown_grace: 5s
listen: 127.0.0.1:0
public_url: {public}
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
    server: localhost:{smtp_port}
    starttls: required
    ca_file: {ca_file}
    username: tocsin
    password: {smtp_password}
    from: incidents@example.org
    timeout: 30s
    retry: {{attempts: 2, base: 50ms, max: 100ms}}
  sms:
    default_region: US
    allow: [127.0.0.0/8]
    breaker: {{failures: 1000, cooldown: 1s}}
    connect_timeout: 10s
    timeout: 30s
    retry: {{attempts: 4, base: 50ms, max: 100ms}}  # a provider tried is an attempt
    providers:
      - name: twilio-main
        kind: twilio
        base_url: {twilio_url}
        account_sid: ${{TWILIO_ACCOUNT_SID}}
        auth_token: {twilio_token}
        from: "+14155550100"
      - name: vonage-backup
        kind: vonage
        base_url: {vonage_url}
        api_key: ${{VONAGE_API_KEY}}
        api_secret: {vonage_secret}
        from: Acme
      - name: gateway
        kind: http
        url: {gateway_url}
        headers: {{Authorization: "Bearer {gateway_token}"}}
        body: '{{"to": "{{{{to}}}}", "text": "{{{{text}}}}"}}'
        success: {{status: [200], pointer: /ok, equals: true}}
        message_id: /id
groups:
  g:
    channels: [webhook]
    members:
{members}
  people:
    channels: [email, sms]
    members:
{people}
"""

GOOD = {"ack_secret": "${TOCSIN_ACK_SECRET}", "webhook_secret": "${TOCSIN_WEBHOOK_SECRET}",
        "smtp_password": "${TOCSIN_SMTP_PASSWORD}", "twilio_token": "${TWILIO_AUTH_TOKEN}",
        "vonage_secret": "${VONAGE_API_SECRET}", "gateway_token": "${GATEWAY_TOKEN}",
        "proxy": ""}
ROTATED = {"ack_secret": "${TOCSIN_ACK_SECRET_2}", "smtp_password": "${TOCSIN_SMTP_WRONG}",
           "twilio_token": "${TWILIO_AUTH_TOKEN_2}", "vonage_secret": "${VONAGE_API_SECRET_2}",
           "gateway_token": "${GATEWAY_TOKEN_2}"}


class Scenario:
    def __init__(self, env):
        self.env = env
        self.secrets = make_secrets()
        self.outputs = []       # (what, bytes) of every CLI run and listener answer
        self.peers = {}         # name -> Listener (webhook destinations)
        self.gw = {}            # "twilio", "vonage", "gateway" -> smspeers.Gateway
        self.http_port = None   # tocsind's listener

    def environ(self, **over):
        e = self.env.env()
        for s in self.secrets:
            if s.env:
                e[s.env] = s.value
        e["TWILIO_ACCOUNT_SID"] = SID
        e["VONAGE_API_KEY"] = VONAGE_KEY
        e.update(over)
        return e

    def config_text(self, **over):
        env = self.env
        members = "".join(f'      - {{name: {n}, webhook: "{u}"}}\n' for n, u in self.members)
        people = "".join(f'      - {{name: {n}, email: {e}, phone: "{p}"}}\n' for n, e, p in PEOPLE)
        values = dict(GOOD, redis_url=f"unix://{env.redis_sock}", members=members,
                      people=people, public=PUBLIC, smtp_port=self.smtp_port,
                      ca_file=self.ca.cert, twilio_url=base_url(self.gw["twilio"]),
                      vonage_url=base_url(self.gw["vonage"]), gateway_url=self.gw["gateway"].url)
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
        self.outputs.append(("cli: tocsin " + " ".join(args), r.stdout + r.stderr))
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
        self.http_port = int(re.findall(r"event=listening listen=\S+ port=(\d+)", env.log())[-1])

    def http(self, method, path, body=None, headers=None, expect=None):
        """A request to tocsind's listener; its whole answer (status line,
        headers, body) is kept for the search. Returns (status, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        head = "".join(f"{k}: {v}\n" for k, v in r.getheaders())
        self.outputs.append((f"http: {method} {path}",
                             f"{r.status} {r.reason}\n{head}\n".encode() + data))
        if expect is not None:
            assert r.status == expect, (method, path, r.status, data)
        return r.status, data.decode(errors="replace")

    def form(self, method, path, fields, expect=None, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.http(method, path, urllib.parse.urlencode(fields), h, expect)

    def twilio_post(self, url, fields, token, expect, signed=None):
        """url (a StatusCallback or inbound URL under PUBLIC) signed as
        Twilio signs: base64 HMAC-SHA1 keyed with token over the URL and
        each field's name and value (of signed, default fields), sorted by
        name."""
        sig = twilio_signature(url, signed or fields, token)
        return self.form("POST", url[len(PUBLIC) - 1:], fields, expect,
                         {"X-Twilio-Signature": sig})

    def reload(self, event):
        env = self.env
        before = env.log().count(event)
        env.tocsind_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: env.log().count(event) > before, 30, event)


# ---- the steps ----------------------------------------------------------------------

def start(sc):
    env = sc.env
    # Email and SMS are configured (and can send); the webhook-only group
    # g still needs the template's email and SMS parts.
    for part, text in (("email.subject", "Outage: {{service}}\n"),
                       ("email.txt", "{{service}} is down.\nAcknowledge: {{ack_url}}\n"),
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
    # Email: aiosmtpd offering STARTTLS with a certificate of the test's own
    # authority (trusted through ca_file), requiring AUTH with the canary.
    sc.ca = CA(env.dir, "ca")
    cert, key = sc.ca.issue("smtpd")
    sc.smtp_port, sc.smtp_dump = start_smtpd(env, "--tls", cert, key, "--require-tls",
                                             "--auth", "tocsin",
                                             password=by_name(sc, "smtp password"))
    # SMS: one simulator per provider, answering as that provider does.
    for name, mode in (("twilio", "twilio"), ("vonage", "vonage"), ("gateway", "ok")):
        sc.gw[name] = Gateway(env, name, mode)
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


def auth_lines(sc):
    """The SMTP server's AUTH verdicts so far ("ok tocsin", "refused tocsin")."""
    try:
        with open(os.path.join(sc.smtp_dump, "auth.txt")) as f:
            return f.read().split("\n")[:-1]
    except FileNotFoundError:
        return []


def forms(gw, start=0):
    """The form fields of each request gw logged, from the start-th on."""
    return [dict(urllib.parse.parse_qsl(r["body"])) for r in gw.requests()[start:]]


def new_requests(gw, start, n):
    """The n requests gw logged after its first start (waiting for them)."""
    wait_for(lambda: len(gw.requests()) >= start + n, 30, f"{n} requests at {gw.name}")
    return gw.requests()[start:start + n]


def sms_by_phone(env, job_id, channel="sms"):
    return {d["address"]: d for d in env.deliveries(job_id).values() if d["channel"] == channel}


def basic(token):
    return "Basic " + base64.b64encode(f"{SID}:{token}".encode()).decode()


def email_and_sms(sc):
    """P1: email (AUTH with the canary password over verified STARTTLS)
    and SMS by Twilio (the auth token in Basic auth) to two people. P2, a
    poll: Twilio answers 401, so Vonage carries it (the api_secret in its
    form), and the record keeps what was tried."""
    env, tw, vo = sc.env, sc.gw["twilio"], sc.gw["vonage"]
    sc.cli("send", "--template", "outage", "--group", "people", "--id", "P1",
           "--incident", "INC-2", "--var", "service=payments", "--wait", expect=0)
    check_counts(env.wait_done("P1"))
    got = wait_for(lambda: len(smtpd_messages(sc.smtp_dump)) == 2 and smtpd_messages(sc.smtp_dump),
                   30, "two messages at the SMTP server")
    assert all(e["tls"] and e["auth"] for e, _ in got), got
    assert auth_lines(sc) and set(auth_lines(sc)) == {"ok tocsin"}, auth_lines(sc)
    reqs = new_requests(tw, 0, 2)
    assert [r["headers"]["authorization"] for r in reqs] == \
        [basic(by_name(sc, "twilio auth token"))] * 2, reqs
    for d in env.deliveries("P1").values():
        assert d["state"] == "sent", d
    assert {d["provider"] for d in sms_by_phone(env, "P1").values()} == {"twilio-main"}

    tw.set_mode("401")
    sc.cli("send", "--template", "outage", "--group", "people", "--id", "P2",
           "--var", "service=payments", "--response", "I am safe", "--response", "I need help",
           "--wait", expect=0)
    check_counts(env.wait_done("P2"))
    secret = by_name(sc, "vonage api secret")
    assert [f["api_secret"] for f in forms(vo)] == [secret] * 2, forms(vo)
    for d in sms_by_phone(env, "P2").values():
        assert d["state"] == "sent" and d["provider"] == "vonage-backup", d
        assert "twilio-main" in json.dumps(d.get("tried")), d
    tw.set_mode("twilio")


def tw_status(sid, st, code=None):
    return twilio_status(sid, st, SID, "+14155550100", code)


def receipts_and_replies(sc):
    """Twilio status callbacks of P1 signed with the canary auth token (a
    tampered one and one signed with another key refused), Vonage receipts
    of P2 (one of another account refused), and an SMS reply answering P2's
    poll, signed (an unsigned one refused)."""
    env, tw, vo = sc.env, sc.gw["twilio"], sc.gw["vonage"]
    token = by_name(sc, "twilio auth token")
    (ada, bob) = (p for _, _, p in PEOPLE)
    cb = {f["To"]: f["StatusCallback"] for f in forms(tw)[:2]}  # P1's
    assert cb[ada].startswith(PUBLIC + "receipts/twilio-main/"), cb
    sc.twilio_post(cb[ada], tw_status("SMa1", "delivered"), token, 200)
    sc.twilio_post(cb[bob], tw_status("SMb1", "undelivered", "30003"), token, 200)
    fields = tw_status("SMb1", "delivered")
    sc.twilio_post(cb[bob], {**fields, "ErrorCode": "1"}, token, 403, signed=fields)
    sc.twilio_post(cb[bob], fields, by_name(sc, "rotated twilio auth token"), 403)
    ds = sms_by_phone(env, "P1")
    assert ds[ada]["state"] == "delivered" and ds[bob]["state"] == "undelivered", ds

    cb = {"+" + f["to"]: f["callback"] for f in forms(vo)}  # P2's
    path = cb[ada][len(PUBLIC) - 1:]
    dlr = {"msisdn": ada[1:], "to": "Acme", "network-code": "12345",
           "messageId": sms_by_phone(env, "P2")[ada]["provider_message_id"],
           "price": "0.03330000", "status": "delivered", "scts": "2001011400",
           "err-code": "0", "api-key": VONAGE_KEY, "message-timestamp": "2020-01-01 12:00:00"}
    js = {"Content-Type": "application/json"}
    sc.http("POST", path, json.dumps(dlr), js, expect=200)
    sc.http("POST", path, json.dumps({**dlr, "api-key": "other"}), js, expect=403)
    assert sms_by_phone(env, "P2")[ada]["state"] == "delivered"

    # Bob answers P2's poll by SMS: option 2.
    ref = lambda: env.r.get(f"tocsin:phone:{{{bob}}}")  # noqa: E731
    wait_for(lambda: (ref() or "").startswith("P2/"), 30, "the phone index")
    reply = {"MessageSid": "SMin0102", "AccountSid": SID, "From": bob, "To": "+14155550100",
             "Body": " 2 ", "NumMedia": "0"}
    url = PUBLIC + "inbound/twilio-main"
    sc.form("POST", url[len(PUBLIC) - 1:], reply, expect=403)  # unsigned
    _, body = sc.twilio_post(url, reply, token, 200)
    assert "<Response>" in body, body
    d = sms_by_phone(env, "P2")[bob]
    assert d["state"] == "acknowledged" and d["response"] == "I need help", d


def ack_links(sc):
    """(job, email address) -> the path of the acknowledgement link the
    email carried."""
    out = {}
    for e, m in smtpd_messages(sc.smtp_dump):
        url = re.search(r"Acknowledge: (\S+)", m.get_body(("plain",)).get_content()).group(1)
        assert url.startswith(PUBLIC + "ack/"), url
        out[(m["X-Tocsin-Job"], e["rcpt_tos"][0])] = url[len(PUBLIC) - 1:]
    return out


def acknowledgements(sc):
    """The pages of the links the emails carried: GET (records nothing),
    POST with a poll's answer (a wrong one refused), twice, after an SMS
    reply, without responses; a tampered token; /metrics and /healthz."""
    env = sc.env
    links = ack_links(sc)
    ada, bob = links[("P2", "ada@example.org")], links[("P2", "bob@example.org")]
    status, page = sc.http("GET", ada, expect=200)
    assert "I am safe" in page and "<form" in page, page
    sc.form("POST", ada, {"response": "I am fine"}, expect=400)
    status, page = sc.form("POST", ada, {"response": "I am safe"}, expect=200)
    assert "was recorded" in page, page
    status, page = sc.form("POST", ada, {"response": "I am safe"}, expect=200)
    assert "already recorded" in page, page
    status, page = sc.form("POST", bob, {"response": "I am safe"}, expect=200)
    assert "already recorded" in page, page  # Bob answered by SMS
    status, page = sc.form("POST", links[("P1", "ada@example.org")], {}, expect=200)
    assert "was recorded" in page, page
    p1bob = links[("P1", "bob@example.org")]
    token = p1bob.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    sc.form("POST", p1bob[:-len(token)] + flipped, {}, expect=403)
    rec = env.job("P2")
    check_counts(rec)
    assert (rec["response:1"], rec["response:2"]) == ("1", "1"), rec
    sc.http("GET", "/metrics", expect=200)
    sc.http("GET", "/healthz", expect=200)


def failover(sc):
    """P3: Twilio 401 and Vonage 500, so the generic gateway carries it
    (its Authorization header); P4: every provider refusing with an error
    that quotes the credentials it was sent (as some APIs quote the key
    they refuse), retried, then failed and dead-lettered. The commands
    that show all four jobs."""
    env, gw = sc.env, sc.gw["gateway"]
    sc.gw["twilio"].set_mode("401")
    sc.gw["vonage"].set_mode("500")
    sc.cli("send", "--template", "outage", "--group", "people", "--channel", "sms",
           "--id", "P3", "--var", "service=payments", "--wait", expect=0)
    check_counts(env.wait_done("P3"))
    reqs = gw.requests()
    assert [r["headers"]["authorization"] for r in reqs] == \
        ["Bearer " + by_name(sc, "gateway token")] * 2, reqs
    for g, mode in (("twilio", "echo 401"), ("vonage", "echo"), ("gateway", "echo")):
        sc.gw[g].set_mode(mode)
    sc.cli("send", "--template", "outage", "--group", "people", "--channel", "sms",
           "--id", "P4", "--var", "service=payments", "--wait", expect=1)
    check_counts(env.wait_done("P4"))
    for d in sms_by_phone(env, "P4").values():
        assert d["state"] == "failed" and d["attempts"] == 4, d
        assert all(p in json.dumps(d["tried"]) for p in ("twilio-main", "vonage-backup",
                                                          "gateway")), d
        # The echo reached the record, its credentials blanked out.
        assert all("refused" in t["outcome"] and "****" in t["outcome"] for t in d["tried"]), d
    for g, mode in (("twilio", "twilio"), ("vonage", "vonage"), ("gateway", "ok")):
        sc.gw[g].set_mode(mode)
    for job in ("P1", "P2", "P3", "P4"):
        sc.cli("status", job, "--json")
        sc.cli("report", job, "--json", expect=0)
    sc.cli("status", "P2")   # the poll's answers
    sc.cli("report", "P4")   # what was tried, and why it failed
    sc.cli("report", "P2", "--unconfirmed", "--json", expect=0)
    sc.cli("dead", "list", "--json", expect=0)
    for channel in ("email", "sms"):
        sc.cli("preview", "--template", "outage", "--group", "people", "--channel", channel,
               "--var", "service=payments", expect=0)


def rotated_secrets(sc):
    """A reload to other variables: a rotated ack secret (links made before
    are refused), Twilio token, Vonage secret and gateway token (each seen
    by its peer), and a wrong SMTP password (the login refused, the emails
    failed). Then back to the first ones."""
    env, tw, vo, gw = sc.env, sc.gw["twilio"], sc.gw["vonage"], sc.gw["gateway"]
    sc.write_config(**ROTATED)
    sc.reload("event=reloaded")
    sc.form("POST", ack_links(sc)[("P1", "bob@example.org")], {}, expect=403)
    n_tw, n_vo, n_gw = len(tw.requests()), len(vo.requests()), len(gw.requests())
    n_auth = len(auth_lines(sc))
    sc.cli("send", "--template", "outage", "--group", "people", "--id", "P5",
           "--var", "service=payments", "--wait", expect=1)
    check_counts(env.wait_done("P5"))
    for d in sms_by_phone(env, "P5", "email").values():
        # libesmtp goes on after a refused AUTH: MAIL gets the 530.
        assert d["state"] == "failed" and "smtp 530" in d["last_outcome"], d
    assert "refused tocsin" in auth_lines(sc)[n_auth:], auth_lines(sc)
    token = by_name(sc, "rotated twilio auth token")
    reqs = new_requests(tw, n_tw, 2)
    assert [r["headers"]["authorization"] for r in reqs] == [basic(token)] * 2, reqs
    cb = {f["To"]: f["StatusCallback"] for f in forms(tw, n_tw)}
    ada = PEOPLE[0][2]
    fields = tw_status("SMa5", "delivered")
    sc.twilio_post(cb[ada], fields, by_name(sc, "twilio auth token"), 403)
    sc.twilio_post(cb[ada], fields, token, 200)

    tw.set_mode("401")
    vo.set_mode("500")
    sc.cli("send", "--template", "outage", "--group", "people", "--channel", "sms",
           "--id", "P6", "--var", "service=payments", "--wait", expect=0)
    check_counts(env.wait_done("P6"))
    assert [f["api_secret"] for f in forms(vo, n_vo)] == \
        [by_name(sc, "rotated vonage api secret")] * 2
    assert [r["headers"]["authorization"] for r in gw.requests()[n_gw:]] == \
        ["Bearer " + by_name(sc, "rotated gateway token")] * 2
    tw.set_mode("twilio")
    vo.set_mode("vonage")
    for job in ("P5", "P6"):
        sc.cli("report", job, "--json", expect=0)
    sc.write_config()
    sc.reload("event=reloaded")


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


STEPS = [start, send_and_track, invalid_and_dead, email_and_sms, receipts_and_replies,
         acknowledgements, failover, rotated_secrets, reloads, bad_environment, stop]


# ---- the search ---------------------------------------------------------------------

def messages(sc):
    """What tocsind sent stakeholders: the emails as the server got them
    (the message data, not the session), the webhook bodies, the SMS texts.
    The peers' own logs are not searched: they saw the credentials, as
    they must."""
    out = [(f"email {e['rcpt_tos']}", m.as_bytes()) for e, m in smtpd_messages(sc.smtp_dump)]
    out += [(f"webhook {r['path']}", r["body"].encode()) for r in sc.env.received()]
    for name, field in (("twilio", "Body"), ("vonage", "text")):
        out += [(f"sms by {name}", f[field].encode()) for f in forms(sc.gw[name])]
    out += [("sms by gateway", json.loads(r["body"])["text"].encode())
            for r in sc.gw["gateway"].requests()]
    return out


def test_no_secret_reaches_logs_redis_or_output(env):
    sc = Scenario(env)
    try:
        for step in STEPS:
            step(sc)
        places = list(sc.outputs)
        places += redis_dump(env.redis_sock, by_name(sc, "redis password"))
        places += files_under(env.dir, ["tocsind.log", "redis.log", "appendonlydir"])
        places += messages(sc)
    finally:
        for p in sc.peers.values():
            p.stop()
    assert len(sc.outputs) >= 40 and sum(len(b) for _, b in places) > 10000, \
        "the scenario produced less than expected"
    hits = search(sc.secrets, places)
    assert not hits, "\n".join(hits[:20])
    # The control: the same search over the SMS peers' logs, which must
    # hold the credentials sent to them, finds each of them.
    peers = files_under(env.dir, [f"gw-{g}.jsonl" for g in sc.gw])
    sent = ["twilio auth token", "vonage api secret", "gateway token", "rotated twilio auth token",
            "rotated vonage api secret", "rotated gateway token"]
    found = search([s for s in sc.secrets if s.name in sent], peers)
    assert all(any(h.startswith(name + " (") for h in found) for name in sent), found
    assert any("(basic auth)" in h for h in found), found
    # The scenario did what it says: deliveries of every outcome.
    d = {x["member"]: x for x in env.deliveries("S1").values()}
    assert d["Ok"]["state"] == "delivered" and d["Failing"]["attempts"] == 3, d
    assert d["Refusing"]["state"] == "failed", d
    assert env.log().count("event=reload-refused") == 9, env.log()
    assert env.log().count("event=reloaded") == 4, env.log()
