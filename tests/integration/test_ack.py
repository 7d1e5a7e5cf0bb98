"""Acknowledgements and polls through tocsind's real listener, with a real
HTTP client: the {{ack_url}} a webhook receives, the page a GET shows
(recording nothing), the form's POST recording the acknowledgement and the
answer once per member, tampered tokens refused, and what `tocsin status`
and `tocsin report` make of it."""

import base64
import hashlib
import hmac
import http.client
import json
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from harness import check_counts, delivery_id, wait_for

SECRET = "ack-secret-for-the-integration-tests"
PUBLIC = "https://tocsin.example.org/base/"


def start(env, members):
    env.start_redis()
    env.start_receiver()
    groups = "  oncall:\n    members:\n" + "".join(
        f"      - {{name: \"{name}\", webhook: \"{env.hook(path)}\"}}\n"
        for name, path in members)
    env.write_config(groups)
    with open(env.config) as f:
        text = f.read()
    text = text.replace("templates: templates/",
                        f"public_url: {PUBLIC}\nack_secret: ${{TOCSIN_ACK_SECRET}}\n"
                        "templates: templates/")
    with open(env.config, "w") as f:
        f.write(text)
    with open(f"{env.dir}/templates/outage/webhook.json", "w") as f:
        f.write('{"member": "{{member.name}}", "ack": "{{ack_url}}"}\n')
    env.extra_env = {"TOCSIN_ACK_SECRET": SECRET}
    env.start_tocsind()
    assert env.http_port, env.log()


def request(env, path, method="GET", form=None):
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    try:
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def links(env, job_id, n):
    """member name -> the ack path of the webhook it received."""
    wait_for(lambda: len([r for r in env.received() if r.get("body")]) >= n, 30,
             "webhooks")
    env.wait_done(job_id)
    out = {}
    for r in env.received():
        body = json.loads(r["body"])
        url = body["ack"]
        assert url.startswith("https://tocsin.example.org/base/ack/"), url
        out[body["member"]] = url[len("https://tocsin.example.org/base"):]
    return out


def send(env, job_id, *extra):
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--id", job_id,
                "--incident", "INC-<7>", *extra)
    assert r.returncode == 0, r.stderr


def test_ack_get_records_nothing_post_records_once(env):
    start(env, [("Ada <b>&", "ada"), ("Bob", "bob")])
    send(env, "J-ack")
    paths = links(env, "J-ack", 2)
    before = env.job("J-ack")

    # A link scanner's GET shows the page and changes nothing.
    status, page = request(env, paths["Ada <b>&"])
    assert status == 200, page
    assert "Ada &lt;b&gt;&amp;" in page and "<b>" not in page, page
    assert "INC-&lt;7&gt;" in page, page
    assert '<form method="post">' in page and ">Acknowledge</button>" in page, page
    assert "default-src 'none'" in page and "no-referrer" in page, page
    status, _ = request(env, paths["Ada <b>&"], "HEAD")
    assert env.job("J-ack") == before
    assert not env.r.exists("tocsin:job:{J-ack}:acks")

    # The form's POST records it.
    status, page = request(env, paths["Ada <b>&"], "POST", {})
    assert status == 200 and "was recorded" in page, (status, page)
    rec = env.job("J-ack")
    assert rec["acknowledged"] == "1" and rec["webhook.acknowledged"] == "1", rec
    assert rec["delivered"] == "1", rec
    check_counts(rec)
    ada = env.deliveries("J-ack")[delivery_id("J-ack", "webhook", env.hook("ada"))]
    assert ada["state"] == "acknowledged" and ada["acknowledged_at"], ada
    assert "response" not in ada, ada
    assert ada["member_key"] == member_key("Ada <b>&", address=env.hook("ada")), ada
    # The job's keys expire (it is done): the acks expire with them.
    assert env.r.pttl("tocsin:job:{J-ack}:acks") > 0

    # A second answer is shown as already recorded and not applied.
    status, page = request(env, paths["Ada <b>&"], "POST", {})
    assert status == 200 and "already recorded" in page, (status, page)
    status, page = request(env, paths["Ada <b>&"])
    assert "already recorded" in page and "<form" not in page, page
    assert env.job("J-ack")["acknowledged"] == "1"

    # Tampered, cut or foreign tokens: refused, logged, never applied.
    bob = paths["Bob"]
    token = bob.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], token.split(".")[0] + ".", "x" * 400,
                "%3Cscript%3E.aaaa"):
        status, page = request(env, "/ack/" + bad, "POST", {})
        assert status in (403, 404), (bad, status, page)
    assert env.job("J-ack")["acknowledged"] == "1"
    wait_for(lambda: "event=token-refused" in env.log(), 10, "the refusal logged")
    assert "<script>" not in env.log()

    # /metrics counts the POSTs by outcome.
    status, text = request(env, "/metrics")
    acks = {s.labels["outcome"]: s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name == "tocsin_acks_total"}
    assert (acks["recorded"], acks["already"], acks["refused"]) == (1, 1, 5), acks

    # tocsin status and report.
    r = env.cli("status", "J-ack")
    assert r.returncode == 0, r.stderr
    assert "confirmed  0 of 0 members" in r.stdout, r.stdout  # webhook only
    r = env.cli("status", "J-ack", "--json")
    acks = json.loads(r.stdout)["acknowledgements"]
    assert acks["acknowledged"] == 1 and acks["members"] == 0, acks
    r = env.cli("report", "J-ack")
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if "acknowledged after" in x]
    assert len(line) == 1 and "Ada" in line[0], r.stdout
    r = env.cli("report", "J-ack", "--unconfirmed", "--json")
    rows = json.loads(r.stdout)
    assert [d["member"] for d in rows] == ["Bob"], rows
    r = env.cli("report", "J-ack", "--unreached", "--json")
    assert json.loads(r.stdout) == [], r.stdout


def test_poll_answers_are_counted(env):
    start(env, [("Ada", "ada"), ("Bob", "bob"), ("Cy", "cy")])
    send(env, "J-poll", "--response", "I am safe", "--response", "I need help",
         "--response", "<b>\"&'")
    paths = links(env, "J-poll", 3)

    status, page = request(env, paths["Ada"])
    assert status == 200
    assert 'name="response" value="I am safe"' in page, page
    assert 'value="I need help">I need help</button>' in page, page
    assert ('value="&lt;b&gt;&quot;&amp;&#39;">&lt;b&gt;&quot;&amp;&#39;</button>'
            in page), page

    status, page = request(env, paths["Ada"], "POST", {"response": "I need help"})
    assert status == 200 and "I need help was recorded" in page, page
    status, page = request(env, paths["Bob"], "POST", {"response": "I am safe"})
    assert status == 200, page
    # Not one of the options, or none at all: refused, nothing recorded.
    for form in ({"response": "maybe"}, {}, {"response": "I am safe!"}):
        status, page = request(env, paths["Cy"], "POST", form)
        assert status == 400, (form, status, page)
    # Ada cannot change her answer.
    status, page = request(env, paths["Ada"], "POST", {"response": "I am safe"})
    assert "already recorded: <strong>I need help</strong>" in page, page

    rec = env.job("J-poll")
    assert rec["acknowledged"] == "2", rec
    assert rec["response:1"] == "1" and rec["response:2"] == "1", rec
    check_counts(rec)
    d = env.deliveries("J-poll")[delivery_id("J-poll", "webhook", env.hook("ada"))]
    assert d["response"] == "I need help", d

    r = env.cli("status", "J-poll")
    assert "answer     1 I am safe" in r.stdout, r.stdout
    assert "answer     1 I need help" in r.stdout, r.stdout
    r = env.cli("status", "J-poll", "--json")
    acks = json.loads(r.stdout)["acknowledgements"]
    assert acks["responses"] == [{"label": "I am safe", "count": 1},
                                 {"label": "I need help", "count": 1},
                                 {"label": "<b>\"&'", "count": 0}], acks
    r = env.cli("report", "J-poll", "--json")
    rows = {d["member"]: d for d in json.loads(r.stdout)}
    assert rows["Ada"]["response"] == "I need help"
    assert rows["Ada"]["acknowledged_after_s"] >= 0
    assert "acknowledged_after_s" not in rows["Cy"]


def test_expired_job_says_so(env):
    start(env, [("Ada", "ada")])
    send(env, "J-old")
    paths = links(env, "J-old", 1)
    # What retention leaves: the tombstone only.
    env.r.delete("tocsin:job:{J-old}", "tocsin:job:{J-old}:deliveries")
    env.r.hset("tocsin:tombstone:{J-old}", mapping={
        "state": "done", "expired_at": "2026-01-01T00:00:00.000Z"})
    status, page = request(env, paths["Ada"], "POST", {})
    assert status == 410 and "expired" in page, (status, page)
    status, page = request(env, paths["Ada"])
    assert status == 410, page


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(job_id, dlv):
    """DESIGN.md's token, computed here independently of tocsind."""
    payload = job_id.encode() + b"\0" + dlv.encode()
    return b64url(payload) + "." + b64url(hmac.new(SECRET.encode(), payload,
                                                   hashlib.sha256).digest())


def member_key(name, email="", phone="", address=""):
    text = b"\0".join([b"tocsin-member", name.encode(), email.encode(), phone.encode(),
                       b"" if email or phone else address.encode()])
    return hashlib.sha256(text).hexdigest()[:32]


def test_share_leaves_webhook_members_out_and_held_deliveries_wait(env):
    """Records of an email, an SMS and a webhook delivery, written as the
    tracker writes them (no email or SMS channel needed), acknowledged
    with tokens made by this test."""
    start(env, [("Ada", "ada")])
    jid = "J-hand"
    ka = member_key("Ann", email="ann@example.org", phone="+15550100")
    kb = member_key("Ben", phone="+15550101")
    kw = member_key("Status page", address="https://hooks.example.org/x")
    dl = {"a" * 32: ("email", "ann@example.org", "Ann", ka, "sent"),
          "b" * 32: ("sms", "+15550101", "Ben", kb, "queued"),
          "c" * 32: ("webhook", "https://hooks.example.org/x", "Status page", kw,
                     "delivered")}
    env.r.hset(f"tocsin:job:{{{jid}}}", mapping={
        "state": "sending", "template": "outage", "severity": "normal", "incident": "",
        "created_at": "2026-11-30T10:00:00.000Z", "planned": 3,
        "job": json.dumps({"template": "outage", "groups": ["oncall"],
                           "responses": ["yes", "no"]}),
        # as ACCEPT writes them: every state's count, 0 until reached
        **{s: 0 for s in ("sending", "retrying", "undelivered", "acknowledged",
                          "failed", "expired", "cancelled")},
        "sent": 1, "queued": 1, "delivered": 1, "email.sent": 1, "sms.queued": 1,
        "webhook.delivered": 1, "members": 2})
    # PLAN keeps the members on a channel other than webhook, the measure
    # of the share, in a set beside the record.
    env.r.sadd(f"tocsin:job:{{{jid}}}:members", ka, kb)
    for did, (ch, addr, name, key, st) in dl.items():
        env.r.hset(f"tocsin:job:{{{jid}}}:deliveries", did, json.dumps({
            "channel": ch, "address": addr, "group": "oncall", "member": name,
            "member_key": key, "state": st, "attempts": 1}))

    # Ann answers by email; Ben's SMS is still queued (tocsind holds it):
    # his answer waits for the write of its send (test_replies.py), and
    # counts for nothing until then.
    status, page = request(env, "/ack/" + token(jid, "a" * 32), "POST", {"response": "no"})
    assert status == 200 and "no was recorded" in page, page
    status, page = request(env, "/ack/" + token(jid, "b" * 32), "POST", {"response": "yes"})
    assert status == 200 and "yes was recorded" in page, (status, page)
    pending = json.loads(env.r.hget(f"tocsin:job:{{{jid}}}:receipts", "ack:" + "b" * 32))
    assert (pending["response"], pending["n"]) == ("yes", 1), pending
    status, page = request(env, "/ack/" + token(jid, "c" * 32), "POST", {"response": "yes"})
    assert status == 200, page
    rec = env.job(jid)
    assert rec["acknowledged"] == "2" and rec["sent"] == "0" and rec["queued"] == "1", rec
    assert rec["confirmed"] == "1", rec  # Ann; the status page is no member
    assert rec["response:1"] == "1" and rec["response:2"] == "1", rec
    check_counts(rec)
    # The job runs (no TTL yet): the acks key has none either.
    assert env.r.pttl(f"tocsin:job:{{{jid}}}:acks") == -1

    r = env.cli("status", jid, "--json")
    acks = json.loads(r.stdout)["acknowledgements"]
    assert (acks["members"], acks["confirmed"], acks["share"]) == (2, 1, 0.5), acks
    r = env.cli("status", jid)
    assert "confirmed  1 of 2 members (50%" in r.stdout, r.stdout
    r = env.cli("report", jid, "--unconfirmed", "--json")
    assert [d["member"] for d in json.loads(r.stdout)] == ["Ben"], r.stdout
    r = env.cli("report", jid, "--unreached", "--json")
    assert [d["member"] for d in json.loads(r.stdout)] == ["Ben"], r.stdout
    r = env.cli("report", jid)
    assert "[acknowledged after " in r.stdout and ": no]" in r.stdout, r.stdout
