"""Provider receipts through tocsind's real listener: Twilio status
callbacks signed as Twilio documents X-Twilio-Signature (computed here,
independently of tocsind: base64 HMAC-SHA1, keyed with the auth token, of
the full URL followed by each POST field's name and value sorted by name),
tampered ones refused; Vonage delivery receipts (fields of
../shared/conformance/vonage-openapi/sms.yml); duplicates and out-of-order
receipts; a receipt that comes before the send was recorded; receipts after
the job is done. The sends go to the gateway simulator
(tests/peers/smsgw.js) as a `kind: twilio` provider: its log shows the
StatusCallback each request carried."""

import http.client
import json
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from harness import check_counts, wait_for
from smspeers import (Gateway, add_sms, members, phones, sms_template, twilio_signature,
                      twilio_status)

ACK_SECRET = "ack-secret-for-the-receipt-tests"
TW_TOKEN = "twilio-auth-token-for-the-tests"
VO_KEY = "abcd1234"
PUBLIC = "https://tocsin.example.org/base/"
SID = "AC" + "0123456789abcdef" * 2


def start(env, gw, n, retry="{attempts: 4, base: 50ms, max: 200ms}"):
    env.start_redis()
    nums = phones(n)
    env.write_config(f"  crew:\n    members:\n{members(nums)}")
    providers = f"""      - name: tw
        kind: twilio
        base_url: http://127.0.0.1:{gw.port}
        account_sid: {SID}
        auth_token: ${{TEST_TWILIO_TOKEN}}
        from: "+14155550199"
      - name: vo
        kind: vonage
        base_url: http://127.0.0.1:9
        api_key: ${{TEST_VONAGE_KEY}}
        api_secret: ${{TEST_VONAGE_SECRET}}
        from: Acme
"""
    add_sms(env, providers, retry=retry,
            top=f"public_url: {PUBLIC}\nack_secret: ${{TOCSIN_ACK_SECRET}}\n")
    sms_template(env)
    env.extra_env = {"TOCSIN_ACK_SECRET": ACK_SECRET, "TEST_TWILIO_TOKEN": TW_TOKEN,
                     "TEST_VONAGE_KEY": VO_KEY, "TEST_VONAGE_SECRET": "vonage-secret-0123"}
    env.start_tocsind()
    assert env.http_port, env.log()
    return nums


def callbacks(gw, n):
    """phone -> the StatusCallback URL its (first) request carried."""
    wait_for(lambda: len(gw.requests()) >= n, 60, "the gateway's requests")
    out = {}
    for g in gw.requests():
        form = dict(urllib.parse.parse_qsl(g["body"]))
        out.setdefault(form["To"], form["StatusCallback"])
    return out


def post(env, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    try:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def twilio_post(env, url, fields, signature=None):
    """Posts a Twilio status callback to url (a StatusCallback) signed for
    it, or with the signature given."""
    assert url.startswith(PUBLIC.rstrip("/")), url
    path = url[len(PUBLIC.rstrip("/")):]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    sig = twilio_signature(url, fields, TW_TOKEN) if signature is None else signature
    if sig != "":
        headers["X-Twilio-Signature"] = sig
    return post(env, path, urllib.parse.urlencode(fields), headers)


def status(sid, st, code=None):
    return twilio_status(sid, st, SID, "+14155550199", code)


def receipts_metric(env):
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return {(s.labels["provider_kind"], s.labels["outcome"]): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name == "tocsin_receipts_total"}


def by_phone(env, job_id):
    return {d["address"]: d for d in env.deliveries(job_id).values()}


def test_twilio_signed_callbacks_duplicates_order_and_tampering(env):
    gw = Gateway(env, "gw")
    a, b, c = start(env, gw, 3)
    env.xadd_job({"id": "R-1", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    rec = env.wait_done("R-1", timeout=60)
    assert rec["sent"] == "3", rec
    cb = callbacks(gw, 3)
    assert cb[a].startswith("https://tocsin.example.org/base/receipts/tw/"), cb

    # The job is done: receipts still move its deliveries, counts with them.
    assert twilio_post(env, cb[a], status("SMa1", "sent"))[0] == 200
    assert by_phone(env, "R-1")[a]["state"] == "sent"
    assert twilio_post(env, cb[a], status("SMa1", "delivered"))[0] == 200
    assert twilio_post(env, cb[b], status("SMb1", "undelivered", "30003"))[0] == 200
    ds = by_phone(env, "R-1")
    assert ds[a]["state"] == "delivered" and ds[a]["provider_message_id"] == "SMa1", ds[a]
    assert ds[a]["last_outcome"] == "twilio delivered", ds[a]
    assert ds[b]["state"] == "undelivered", ds[b]
    assert ds[b]["last_outcome"] == "twilio undelivered, error 30003", ds[b]

    # Twice, and out of order: the final state stays.
    assert twilio_post(env, cb[a], status("SMa1", "delivered"))[0] == 200
    assert twilio_post(env, cb[a], status("SMa1", "queued"))[0] == 200
    assert twilio_post(env, cb[a], status("SMa1", "failed", "30005"))[0] == 200
    assert by_phone(env, "R-1")[a]["state"] == "delivered"
    # ... but a delivery report after a failure report wins (the order is
    # sent < undelivered < delivered).
    assert twilio_post(env, cb[b], status("SMb1", "delivered"))[0] == 200
    assert by_phone(env, "R-1")[b]["state"] == "delivered"

    # Tampered: a field changed after signing, a wrong key, no signature,
    # another delivery's URL, a forged token. Refused, never applied.
    fields = status("SMc1", "delivered")
    good = twilio_signature(cb[c], fields, TW_TOKEN)
    assert twilio_post(env, cb[c], {**fields, "MessageStatus": "undelivered"}, good)[0] == 403
    assert twilio_post(env, cb[c], fields, twilio_signature(cb[c], fields, "wrong"))[0] == 403
    assert twilio_post(env, cb[c], fields, "")[0] == 403
    assert twilio_post(env, cb[c], fields, twilio_signature(cb[a], fields, TW_TOKEN))[0] == 403
    token = cb[c].rsplit("/", 1)[1]
    forged = cb[c][:-len(token)] + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert twilio_post(env, forged, fields)[0] == 403
    assert twilio_post(env, cb[c] + "x", fields)[0] == 403
    # Injection in the provider name and token: refused, logged escaped.
    st, _ = post(env, "/receipts/%1B%5B31m/%0Aevil", "x=1",
                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert st in (403, 404), st
    ds = by_phone(env, "R-1")
    assert ds[c]["state"] == "sent", ds[c]
    log = env.log()
    assert "event=receipt-refused" in log and "X-Twilio-Signature does not verify" in log
    assert "\x1b[31m" not in log and "\nevil" not in log

    rec = env.job("R-1")
    check_counts(rec)
    assert (rec["delivered"], rec["sent"], rec.get("undelivered", "0")) == ("2", "1", "0"), rec
    assert rec["sms.delivered"] == "2" and rec["sms.sent"] == "1", rec
    r = env.cli("status", "R-1")
    assert r.returncode == 0 and "delivered" in r.stdout, r.stdout

    m = receipts_metric(env)
    assert m[("twilio", "moved")] == 3, m
    assert m[("twilio", "skipped")] == 4, m
    assert m[("twilio", "refused")] == 4, m
    assert m[("twilio", "refused_token")] == 2, m
    assert TW_TOKEN not in env.log()


def test_receipt_before_the_send_was_recorded(env):
    """The gateway takes the request (and logs it) but answers only after
    the receipt came: the receipt is kept pending, and the `sent` write
    applies it, never undoing it."""
    gw = Gateway(env, "gw", "hang")
    (a,) = start(env, gw, 1, retry="{attempts: 6, base: 50ms, max: 200ms}")
    env.xadd_job({"id": "R-2", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    cb = callbacks(gw, 1)
    assert twilio_post(env, cb[a], status("SMp1", "delivered"))[0] == 200
    d = by_phone(env, "R-2")[a]
    assert d["state"] in ("queued", "sending", "retrying"), d
    assert env.r.hexists("tocsin:job:{R-2}:receipts", d["id"] if "id" in d else
                         next(iter(env.deliveries("R-2"))))
    gw.set_mode("ok")
    rec = env.wait_done("R-2", timeout=60)
    check_counts(rec)
    d = by_phone(env, "R-2")[a]
    assert d["state"] == "delivered" and d["last_outcome"] == "twilio delivered", d
    assert rec["delivered"] == "1" and rec.get("sent", "0") == "0", rec
    assert not env.r.exists("tocsin:job:{R-2}:receipts")
    # A late `sent` does not move it back.
    assert twilio_post(env, cb[a], status("SMp1", "sent"))[0] == 200
    assert by_phone(env, "R-2")[a]["state"] == "delivered"
    assert receipts_metric(env)[("twilio", "pending")] == 1


def test_vonage_delivery_receipts(env):
    """Vonage DLRs as its OpenAPI description has them (JSON), and form-
    encoded; the token is the verification, and an api-key not the
    provider's is refused."""
    gw = Gateway(env, "gw")
    a, b, c = start(env, gw, 3)
    env.xadd_job({"id": "R-3", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    env.wait_done("R-3", timeout=60)
    cb = {p: u.replace("/receipts/tw/", "/receipts/vo/") for p, u in callbacks(gw, 3).items()}
    path = {p: u[len(PUBLIC.rstrip("/")):] for p, u in cb.items()}
    dlr = {"msisdn": a[1:], "to": "Acme", "network-code": "12345",
           "messageId": "0A0000001234567B", "price": "0.03330000", "status": "delivered",
           "scts": "2001011400", "err-code": "0", "api-key": VO_KEY,
           "message-timestamp": "2020-01-01 12:00:00"}
    js = {"Content-Type": "application/json"}
    assert post(env, path[a], json.dumps(dlr), js)[0] == 200
    assert post(env, path[a], json.dumps(dlr), js)[0] == 200  # twice
    failed = {**dlr, "msisdn": b[1:], "messageId": "0A0000001234567C", "status": "failed",
              "err-code": "6"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert post(env, path[b], urllib.parse.urlencode(failed), form)[0] == 200
    # Refused: another account's api-key, a status Vonage does not send,
    # a body that is no receipt.
    assert post(env, path[c], json.dumps({**dlr, "api-key": "other"}), js)[0] == 403
    assert post(env, path[c], json.dumps({**dlr, "status": "bogus"}), js)[0] == 403
    assert post(env, path[c], "[1,2", js)[0] == 403
    ds = by_phone(env, "R-3")
    assert ds[a]["state"] == "delivered" and ds[a]["provider"] == "vo", ds[a]
    assert ds[a]["provider_message_id"] == "0A0000001234567B", ds[a]
    assert ds[b]["state"] == "undelivered", ds[b]
    assert ds[b]["last_outcome"] == "vonage failed, err-code 6", ds[b]
    assert ds[c]["state"] == "sent", ds[c]
    check_counts(env.job("R-3"))
    m = receipts_metric(env)
    assert (m[("vonage", "moved")], m[("vonage", "skipped")], m[("vonage", "refused")]) == \
        (2, 1, 3), m


def reply(env, frm, body, signature=None):
    """Twilio's inbound message webhook to /inbound/tw, signed."""
    url = PUBLIC.rstrip("/") + "/inbound/tw"
    fields = {"MessageSid": "SMin" + frm[-4:], "AccountSid": SID, "From": frm,
              "To": "+14155550199", "Body": body, "NumMedia": "0"}
    return twilio_post(env, url, fields, signature)


def test_sms_replies_acknowledge_the_latest_delivery(env):
    gw = Gateway(env, "gw")
    a, b = start(env, gw, 2)
    env.xadd_job({"id": "R-4", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})
    env.wait_done("R-4", timeout=60)
    wait_for(lambda: env.r.exists(f"tocsin:phone:{{{a}}}"), 30, "the phone index")
    assert 0 < env.r.pttl(f"tocsin:phone:{{{a}}}")

    # Without responses, any reply acknowledges; once per member.
    st, body = reply(env, a, "ok, on it")
    assert st == 200 and "<Response>" in body, (st, body)
    d = by_phone(env, "R-4")[a]
    assert d["state"] == "acknowledged" and d["acknowledged_at"], d
    assert reply(env, a, "again")[0] == 200
    rec = env.job("R-4")
    assert rec["acknowledged"] == "1" and rec["sms.acknowledged"] == "1", rec
    check_counts(rec)
    # Tampered or unsigned: refused, not applied; an unknown number: nothing.
    assert reply(env, b, "ok", signature="")[0] == 403
    assert reply(env, b, "ok", signature=twilio_signature("https://x/inbound/tw", {}, TW_TOKEN))[0] == 403
    assert reply(env, "+14155559999", "ok")[0] == 200
    assert by_phone(env, "R-4")[b]["state"] == "sent"

    # With responses, the reply is the option's number; the latest job wins.
    env.xadd_job({"id": "R-5", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}, "responses": ["I am safe", "I need help"]})
    env.wait_done("R-5", timeout=60)
    ref = lambda: env.r.get(f"tocsin:phone:{{{b}}}")  # noqa: E731
    wait_for(lambda: ref() and ref().startswith("R-5/"), 30, "the index to move on")
    assert reply(env, b, " 2 ")[0] == 200
    assert reply(env, a, "7")[0] == 200       # not an option: nothing
    assert reply(env, a, "safe")[0] == 200    # nor is a word
    ds = by_phone(env, "R-5")
    assert ds[b]["state"] == "acknowledged" and ds[b]["response"] == "I need help", ds[b]
    assert ds[a]["state"] == "sent", ds[a]
    assert reply(env, a, "1")[0] == 200
    ds = by_phone(env, "R-5")
    assert ds[a]["response"] == "I am safe", ds[a]
    rec = env.job("R-5")
    check_counts(rec)
    assert (rec["response:1"], rec["response:2"], rec["acknowledged"]) == ("1", "1", "2"), rec
    # R-4's b was not touched by the reply meant for R-5.
    assert by_phone(env, "R-4")[b]["state"] == "sent"
    r = env.cli("status", "R-5")
    assert "confirmed  2 of 2 members" in r.stdout, r.stdout

    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = {s.labels["outcome"]: s.value for fam in text_string_to_metric_families(text)
         for s in fam.samples if s.name == "tocsin_sms_replies_total"}
    assert (m["acknowledged"], m["already"], m["refused"], m["invalid"]) == (3, 1, 2, 2), m
