"""SMS replies through tocsind's real listener, for Vonage's inbound-sms
(fields of ../shared/conformance/vonage-openapi/sms.yml), signed here as
Vonage documents its signed webhooks, independently of tocsind: every
field but sig sorted by name, each as "&name=value" with '&' and '=' in the
value replaced by '_'; md5hash is the hex MD5 of that text and the
secret, the other methods the hex HMAC keyed with the secret. JSON, form
and GET bodies; tampered, unsigned, stale and unconfigured ones refused;
and a reply (or an acknowledgement link) that overtakes the tracker's
write of the send, with the gateway simulator (tests/peers/smsgw.js,
answering as Vonage's API, or as a webhook receiver) holding its answer
until the answer was taken."""

import hashlib
import hmac
import http.client
import json
import time
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from harness import check_counts, wait_for, wake_now
from smspeers import Gateway, add_sms, members, phones, sms_template
from test_ack import request

ACK_SECRET = "ack-secret-for-the-reply-tests"
VO_KEY = "abcd1234"
SIG_SECRET = "vonage-signature-secret-for-the-tests"
PUBLIC = "https://tocsin.example.org/base/"


def start(env, gw, n, timeout="2s", policy=""):
    """tocsind with two Vonage providers on the simulator: `vo` with signed
    webhooks (sha256), `vn` without a signature_secret; policy: an
    escalations section."""
    env.start_redis()
    nums = phones(n)
    env.write_config(f"  crew:\n    members:\n{members(nums)}")
    providers = f"""      - name: vo
        kind: vonage
        base_url: http://127.0.0.1:{gw.port}
        api_key: ${{TEST_VONAGE_KEY}}
        api_secret: ${{TEST_VONAGE_SECRET}}
        signature_secret: ${{TEST_VONAGE_SIG}}
        signature_method: sha256
        from: Acme
      - name: vn
        kind: vonage
        base_url: http://127.0.0.1:{gw.port}
        api_key: ${{TEST_VONAGE_KEY}}
        api_secret: ${{TEST_VONAGE_SECRET}}
        from: Acme
"""
    # no breaker opens here (a failed send below fails every attempt)
    add_sms(env, providers, retry="{attempts: 4, base: 50ms, max: 200ms}",
            breaker="{failures: 1000, cooldown: 1s}",
            top=f"public_url: {PUBLIC}\nack_secret: ${{TOCSIN_ACK_SECRET}}\n")
    with open(env.config) as f:
        text = f.read().replace("    timeout: 2s\n", f"    timeout: {timeout}\n", 1) + policy
    with open(env.config, "w") as f:
        f.write(text)
    sms_template(env)
    env.extra_env = {"TOCSIN_ACK_SECRET": ACK_SECRET, "TEST_VONAGE_KEY": VO_KEY,
                     "TEST_VONAGE_SECRET": "vonage-secret-0123", "TEST_VONAGE_SIG": SIG_SECRET}
    env.start_tocsind()
    assert env.http_port, env.log()
    return nums


def vonage_sig(fields, method="sha256", secret=SIG_SECRET):
    """sig as Vonage's signed webhooks carry it."""
    data = "".join(f"&{k}={v.replace('&', '_').replace('=', '_')}"
                   for k, v in sorted(fields.items()) if k != "sig")
    if method == "md5hash":
        return hashlib.md5((data + secret).encode()).hexdigest()
    return hmac.new(secret.encode(), data.encode(), method).hexdigest()


def inbound(frm, said, ts=None, **over):
    """A signed InboundMessage from frm (E.164) saying said; over replaces
    fields after signing (None: removes one)."""
    ts = int(time.time()) if ts is None else ts
    f = {"msisdn": frm.lstrip("+"), "to": "447700900000", "messageId": "0A00000001" + frm[-4:],
         "text": said, "type": "text", "keyword": said.split(" ")[0].upper() if said else "",
         "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)),
         "timestamp": str(ts), "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
         "api-key": VO_KEY}
    f["sig"] = vonage_sig(f)
    for k, v in over.items():
        if v is None:
            f.pop(k, None)
        else:
            f[k] = v
    return f


def send_reply(env, fields, how="json", provider="vo"):
    """Posts fields to /inbound/<provider> as JSON, as a form, or as a GET's
    query. Returns (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    path = f"/inbound/{provider}"
    try:
        if how == "get":
            c.request("GET", path + "?" + urllib.parse.urlencode(fields))
        elif how == "form":
            c.request("POST", path, body=urllib.parse.urlencode(fields),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            c.request("POST", path, body=json.dumps(fields),
                      headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def replies_metric(env):
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return {s.labels["outcome"]: s.value for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name == "tocsin_sms_replies_total"}


def by_phone(env, job_id):
    return {d["address"]: d for d in env.deliveries(job_id).values()}


def test_vonage_signed_replies_acknowledge(env):
    gw = Gateway(env, "gw", "vonage")
    a, b, c, d = start(env, gw, 4)
    env.xadd_job({"id": "V-1", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    env.wait_done("V-1", timeout=60)

    # Refused (403) and not applied: tampered after signing, unsigned, a sig
    # for another method, stale (a replay), from another account, and a
    # correctly signed one to the provider without a signature_secret.
    for bad in (inbound(b, "ok", text="not what was signed"),
                inbound(b, "ok", sig=None),
                inbound(b, "ok", sig=vonage_sig(inbound(b, "ok"), "md5hash")),
                inbound(b, "ok", ts=int(time.time()) - 600),
                inbound(b, "ok", msisdn=a.lstrip("+"))):
        assert send_reply(env, bad)[0] == 403, bad
    other = inbound(b, "ok", **{"api-key": "zzzz9999"})
    other["sig"] = vonage_sig(other)
    assert send_reply(env, other)[0] == 403
    assert send_reply(env, inbound(b, "ok"), provider="vn")[0] == 403
    assert send_reply(env, inbound(b, "ok"), how="form", provider="vn")[0] == 403
    assert by_phone(env, "V-1")[b]["state"] == "sent"

    # Signed: JSON, form and GET each acknowledge; the answer is an empty 200.
    st, body = send_reply(env, inbound(a, "ok, on it"))
    assert (st, body) == (200, ""), (st, body)
    assert send_reply(env, inbound(b, "seen"), how="form") == (200, "")
    assert send_reply(env, inbound(c, "yes"), how="get") == (200, "")
    ds = by_phone(env, "V-1")
    for p in (a, b, c):
        assert ds[p]["state"] == "acknowledged" and ds[p]["acknowledged_at"], ds[p]
    assert ds[d]["state"] == "sent", ds[d]
    # Once per member; a number nobody was sent to matches nothing (200).
    assert send_reply(env, inbound(a, "again")) == (200, "")
    assert send_reply(env, inbound("+14155559999", "hello")) == (200, "")
    rec = env.job("V-1")
    assert rec["acknowledged"] == "3" and rec["sms.acknowledged"] == "3", rec
    check_counts(rec)

    # With responses the reply is the option's number; the latest job wins.
    env.xadd_job({"id": "V-2", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}, "responses": ["I am safe", "I need help"]})
    env.wait_done("V-2", timeout=60)
    assert send_reply(env, inbound(a, " 2 ")) == (200, "")
    assert send_reply(env, inbound(b, "7")) == (200, "")
    ds = by_phone(env, "V-2")
    assert ds[a]["state"] == "acknowledged" and ds[a]["response"] == "I need help", ds[a]
    assert ds[b]["state"] == "sent", ds[b]
    rec = env.job("V-2")
    assert rec["response:2"] == "1" and rec["acknowledged"] == "1", rec
    check_counts(rec)
    assert env.job("V-1")["acknowledged"] == "3"
    m = replies_metric(env)
    assert (m["acknowledged"], m["already"], m["unmatched"], m["invalid"], m["refused"]) == \
        (4, 1, 1, 1, 8), m

    # A newer SMS that never reached the member (failed) does not take
    # their replies: they answer the one before it.
    gw.set_mode("500")
    env.xadd_job({"id": "V-4", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    rec = env.wait_done("V-4", timeout=60)
    assert rec["failed"] == "4", rec
    assert env.r.get(f"tocsin:phone:{{{d}}}").startswith("V-4/")
    assert send_reply(env, inbound(d, "1")) == (200, "")
    ds = by_phone(env, "V-2")
    assert ds[d]["state"] == "acknowledged" and ds[d]["response"] == "I am safe", ds[d]
    assert by_phone(env, "V-4")[d]["state"] == "failed"


def test_a_reply_that_overtakes_its_sent_write(env):
    """The gateway takes the request (the member has the message) but
    answers only after the member's reply was taken: the reply is kept
    pending, and the write of `sent` records the acknowledgement, with the
    member's answer, once."""
    gw = Gateway(env, "gw", "hold")
    (a,) = start(env, gw, 1, timeout="10m")
    env.xadd_job({"id": "V-3", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}, "responses": ["safe", "help"]})
    wait_for(lambda: len(gw.requests()) >= 1, 60, "the gateway to get the request")
    assert send_reply(env, inbound(a, "1")) == (200, "")
    assert replies_metric(env)["pending"] == 1
    d = by_phone(env, "V-3")[a]
    assert d["state"] in ("queued", "sending"), d
    # The same member answering again before the send is recorded: the
    # first answer stands.
    assert send_reply(env, inbound(a, "2")) == (200, "")
    gw.set_mode("vonage")
    rec = env.wait_done("V-3", timeout=60)
    d = by_phone(env, "V-3")[a]
    assert d["state"] == "acknowledged" and d["response"] == "safe", d
    assert rec["acknowledged"] == "1" and rec["response:1"] == "1", rec
    assert rec.get("response:2", "0") == "0" and rec.get("sent", "0") == "0", rec
    check_counts(rec)
    assert not env.r.exists("tocsin:job:{V-3}:receipts")
    assert len(env.r.hgetall("tocsin:job:{V-3}:acks")) == 1
    states = [e[1].get("state") for e in env.r.xrange("tocsin:job:{V-3}:events")]
    assert states.count("acknowledged") == 1, states
    # Acknowledged now: a later reply is "already".
    assert send_reply(env, inbound(a, "2")) == (200, "")
    assert by_phone(env, "V-3")[a]["response"] == "safe"
    assert replies_metric(env)["already"] == 1


def test_a_reply_to_an_escalation_round_counts_for_the_job(env):
    """A reply to a round's SMS is the member's acknowledgement of the whole
    job (kept in the root job's acks), so the next round skips them."""
    gw = Gateway(env, "gw", "vonage")
    a, b = start(env, gw, 2, policy="escalations:\n  page:\n    after: 1h\n"
                 "    rounds: 2\n    channels: [sms]\n")
    env.xadd_job({"id": "E", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}, "escalation": "page"})
    env.wait_done("E", timeout=60)
    assert send_reply(env, inbound(a, "ok")) == (200, "")
    wake_now(env, "E.esc.1")
    env.wait_done("E.esc.1", timeout=60)
    assert env.job("E.esc.1")["planned"] == "1"  # the first answered: only the second
    assert send_reply(env, inbound(b, "ok")) == (200, "")
    assert by_phone(env, "E.esc.1")[b]["state"] == "acknowledged"
    assert sorted(json.loads(v)["delivery"] in env.deliveries("E.esc.1")
                  for v in env.r.hvals("tocsin:job:{E}:acks")) == [False, True]
    assert not env.r.exists("tocsin:job:{E.esc.1}:acks")
    wake_now(env, "E.esc.2")
    env.wait_done("E.esc.2", timeout=60)
    assert env.job("E.esc.2").get("planned", "0") == "0", env.job("E.esc.2")
    assert len(gw.requests()) == 3, [q["body"] for q in gw.requests()]


def test_an_ack_link_used_before_the_webhook_delivery_was_recorded(env):
    """The same holds for an acknowledgement link: the receiver (the
    simulator, holding its answer) has the message and its link, the
    stakeholder answers, and the write of `delivered` records it."""
    env.start_redis()
    gw = Gateway(env, "gw", "hold")
    env.write_config("  crew:\n    members:\n      - {name: W, webhook: "
                     f"\"http://127.0.0.1:{gw.port}/hook\", channels: [webhook]}}\n")
    with open(env.config) as f:
        text = f.read().replace("    timeout: 5s\n", "    timeout: 10m\n", 1)
    with open(env.config, "w") as f:
        f.write(text.replace("templates: templates/\n", f"templates: templates/\npublic_url: "
                             f"{PUBLIC}\nack_secret: ${{TOCSIN_ACK_SECRET}}\n", 1))
    with open(f"{env.dir}/templates/outage/webhook.json", "w") as f:
        f.write('{"ack": "{{ack_url}}"}\n')
    env.extra_env = {"TOCSIN_ACK_SECRET": ACK_SECRET}
    env.start_tocsind()
    env.xadd_job({"id": "W-1", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}, "responses": ["up", "down"]})
    wait_for(lambda: len(gw.requests()) >= 1, 60, "the receiver to get the webhook")
    link = json.loads(gw.requests()[0]["body"])["ack"]
    assert link.startswith(PUBLIC + "ack/"), link
    status, page = request(env, link[len(PUBLIC) - 1:], "POST", {"response": "down"})
    assert status == 200 and "down was recorded" in page, (status, page)
    (d,) = env.deliveries("W-1").values()
    assert d["state"] in ("queued", "sending"), d
    gw.set_mode("ok")
    rec = env.wait_done("W-1", timeout=60)
    (d,) = env.deliveries("W-1").values()
    assert d["state"] == "acknowledged" and d["response"] == "down", d
    assert rec["acknowledged"] == "1" and rec["response:2"] == "1", rec
    assert rec.get("delivered", "0") == "0", rec
    check_counts(rec)
    assert not env.r.exists("tocsin:job:{W-1}:receipts")
