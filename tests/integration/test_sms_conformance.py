"""The SMS providers' requests, valid against the providers' own API
descriptions: Prism (npm @stoplight/prism-cli) serves Twilio's and Vonage's
official OpenAPI descriptions from ../shared/conformance on loopback and
validates every request; an invalid one gets a 422, which tocsind records
as a permanent failure, so a delivery that is `sent` passed validation.
Each test first shows that the mock does refuse a request the description
forbids, so a pass means something."""

import base64
import os
import urllib.error
import urllib.parse
import urllib.request

from harness import check_counts
from smspeers import add_sms, members, phones, sms_template, start_prism

SID = "AC" + "0123456789abcdef" * 2
SERVICE = "MG" + "fedcba9876543210" * 2


def post(url, fields, auth=None):
    """A form POST; returns the HTTP status."""
    req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode())
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def run(env, provider, job_id, n=2, service="payments", top=""):
    nums = phones(n)
    env.write_config(f"  crew:\n    members:\n{members(nums)}")
    add_sms(env, provider, top=top)
    sms_template(env)
    env.start_tocsind()
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["crew"],
                  "vars": {"service": service}})
    rec = env.wait_done(job_id, timeout=120)
    check_counts(rec)
    ds = list(env.deliveries(job_id).values())
    assert not any("422" in d["last_outcome"] for d in ds), ds
    assert rec.get("sent") == str(n), (rec, ds)
    return ds


def twilio(base, extra):
    return f"""      - name: tw
        kind: twilio
        base_url: {base}
        account_sid: {SID}
        auth_token: ${{TEST_TWILIO_TOKEN}}
{extra}"""


def test_twilio_requests_are_valid_against_twilio_openapi(env):
    env.start_redis()
    base = start_prism(env, "twilio-openapi/twilio_api_v2010.json")
    url = f"{base}/2010-04-01/Accounts/{SID}/Messages.json"
    # The control: without To, Twilio's description refuses the request.
    assert post(url, {"From": "+14155550199", "Body": "x"}, f"{SID}:tok") == 422
    os.environ["TEST_TWILIO_TOKEN"] = "twilio-test-token-0123"
    try:
        ds = run(env, twilio(base, '        from: "+14155550199"\n'), "TW-1")
    finally:
        del os.environ["TEST_TWILIO_TOKEN"]
    for d in ds:
        assert d["provider"] == "tw" and d["provider_message_id"].startswith("SM"), d
        assert d["last_outcome"] == "accepted (http 201)", d
    assert "twilio-test-token-0123" not in env.log()


def test_twilio_messaging_service_and_status_callback_are_valid(env):
    """messaging_service_sid in place of from, unicode text, and a
    StatusCallback (public_url and ack_secret configured)."""
    env.start_redis()
    base = start_prism(env, "twilio-openapi/twilio_api_v2010.json")
    os.environ["TEST_TWILIO_TOKEN"] = "twilio-test-token-0123"
    os.environ["TEST_ACK_SECRET"] = "ack-secret-0123456789"
    top = "public_url: https://tocsin.example.org\nack_secret: ${TEST_ACK_SECRET}\n"
    try:
        ds = run(env, twilio(base, f"        messaging_service_sid: {SERVICE}\n"), "TW-2",
                 service="Zürich ✓", top=top)
    finally:
        del os.environ["TEST_TWILIO_TOKEN"]
        del os.environ["TEST_ACK_SECRET"]
    assert all(d["encoding"] == "ucs2" and d["provider_message_id"] for d in ds), ds


def vonage(base):
    return f"""      - name: vo
        kind: vonage
        base_url: {base}
        api_key: ${{TEST_VONAGE_KEY}}
        api_secret: ${{TEST_VONAGE_SECRET}}
        from: Acme
"""


def test_vonage_requests_are_valid_against_vonage_openapi(env):
    env.start_redis()
    base = start_prism(env, "vonage-openapi/sms.yml")
    # The control: without `to`, the description refuses the request.
    assert post(base + "/json", {"api_key": "abcd1234", "from": "Acme", "text": "x"}) == 422
    os.environ["TEST_VONAGE_KEY"] = "abcd1234"
    os.environ["TEST_VONAGE_SECRET"] = "abcdef0123456789"
    top = "public_url: https://tocsin.example.org\nack_secret: ${TEST_ACK_SECRET}\n"
    os.environ["TEST_ACK_SECRET"] = "ack-secret-0123456789"
    try:
        ds = run(env, vonage(base), "VO-1", service="Zürich ✓", top=top)
    finally:
        for k in ("TEST_VONAGE_KEY", "TEST_VONAGE_SECRET", "TEST_ACK_SECRET"):
            del os.environ[k]
    # Prism answers the description's example: status "0", one part.
    for d in ds:
        assert d["provider"] == "vo" and d["provider_message_id"] == "0A0000000123ABCD1", d
        assert d["last_outcome"] == "accepted (1 part)", d
    assert "abcdef0123456789" not in env.log()
