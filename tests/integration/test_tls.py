"""TLS peers of webhooks (and of the SMS gateways, which share the HTTP
client): verification is always on. A self-signed, an expired and a
wrong-name certificate are refused, and so is one from an authority
nobody configured; `channels.webhook.ca_file` makes tocsind trust the
authorities in it, instead of the system's, and nothing more: an expired
or wrong-name certificate from a trusted authority stays refused. Every
refused peer's handler gets 0 requests, and the record names the TLS
reason. Certificates are made by the test with openssl (certs.py)."""

import os
import re
import shutil
import signal

from certs import CA, bundle, self_signed, server_context
from harness import ROOT, check_counts, wait_for
from listeners import Listener
from smspeers import add_sms, members, phones, sms_template
from test_ssrf import configure, own


def peers(env, certs):
    """An HTTPS listener on 127.0.0.1 per (kind, (cert, key)), and the
    (member name, URL) of each, by the name the certificates carry."""
    lis = {kind: own(env, Listener(tls=server_context(*ck))) for kind, ck in certs.items()}
    return lis, [(kind, f"https://localhost:{lis[kind].port}/{kind}") for kind in certs]


def run_job(env, job_id):
    """Sends job_id to group g; its deliveries by member name, once done
    (however long the handshakes of a loaded machine take)."""
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["g"]})
    check_counts(env.wait_done(job_id, timeout=150))
    return {d["member"]: d for d in env.deliveries(job_id).values()}


def configure_tls(env, urls, ca_file=None):
    """A group of urls, allowed on 127.0.0.1, with ca_file if given. The
    timeouts are long: on a loaded machine a handshake with the test's
    Python peers can take seconds, and a timeout must not stand in for the
    certificate's verdict."""
    configure(env, urls, allow=("127.0.0.1/32",))
    with open(env.config) as f:
        text = f.read()
    text = text.replace("connect_timeout: 2s", "connect_timeout: 60s", 1)
    text = text.replace("timeout: 5s", "timeout: 120s", 1)
    with open(env.config, "w") as f:
        f.write(text)
    if ca_file:
        with_ca_file(env, ca_file)


def with_ca_file(env, path):
    """Adds channels.webhook.ca_file: path to the written configuration."""
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace("    allow:", f"    ca_file: {path}\n    allow:", 1))


def assert_refused(lis, d, reason):
    """d failed on TLS with reason in its outcome, after every attempt, and
    the peer was reached (a handshake) but its handler got nothing."""
    assert d["state"] == "failed" and d["attempts"] == 3, d
    assert reason in d["last_outcome"], (reason, d)
    assert lis.requests == [], lis.requests
    assert lis.count() >= 1, "the TLS peer was not even tried"


def assert_delivered(lis, d, kind):
    assert d["state"] == "delivered" and d["last_outcome"] == "http 204", d
    assert [r[1] for r in lis.requests] == [f"/{kind}"], lis.requests
    assert lis.sni and set(lis.sni) == {"localhost"}, lis.sni


def make(env):
    """A trusted authority's good, expired and wrong-name certificates, a
    self-signed one, and a good one from an authority never trusted."""
    ca, other = CA(env.dir, "trusted"), CA(env.dir, "other")
    certs = {"good": ca.issue("good"),
             "expired": ca.issue("expired", start=-10, end=-9),
             "wronghost": ca.issue("wronghost", name="wrong.example"),
             "selfsigned": self_signed(env.dir, "selfsigned"),
             "stranger": other.issue("stranger")}
    return ca, certs


def test_without_a_ca_file_no_test_certificate_is_trusted(env):
    env.start_redis()
    _, certs = make(env)
    lis, urls = peers(env, certs)
    configure_tls(env, urls)
    env.start_tocsind()
    by = run_job(env, "TLS-SYSTEM")
    assert_refused(lis["selfsigned"], by["selfsigned"],
                   "SSL certificate problem: self-signed certificate")
    for kind in ("good", "expired", "wronghost", "stranger"):
        # The chain fails first: the system does not know the authority.
        assert_refused(lis[kind], by[kind],
                       "SSL certificate problem: unable to get local issuer certificate")


def test_a_ca_file_trusts_its_authorities_and_nothing_else(env):
    env.start_redis()
    ca, certs = make(env)
    lis, urls = peers(env, certs)
    configure_tls(env, urls, bundle(f"{env.dir}/cas.pem", ca.cert, certs["selfsigned"][0]))
    env.start_tocsind()
    by = run_job(env, "TLS-CAFILE")
    assert_delivered(lis["good"], by["good"], "good")
    assert_delivered(lis["selfsigned"], by["selfsigned"], "selfsigned")
    # Trusting the authority does not make its expired or misnamed
    # certificates good.
    assert_refused(lis["expired"], by["expired"],
                   "SSL certificate problem: certificate has expired")
    assert_refused(lis["wronghost"], by["wronghost"],
                   "no alternative certificate subject name matches target host name")
    # The file replaces the system's CAs; it does not add "anything".
    assert_refused(lis["stranger"], by["stranger"],
                   "SSL certificate problem: unable to get local issuer certificate")


def test_a_reload_changes_which_authorities_are_trusted(env):
    """SIGHUP with a ca_file that no longer trusts the authority: the next
    job's connection to the same peer is refused (libcurl does not reuse a
    connection made under other CAs)."""
    env.start_redis()
    ca, certs = make(env)
    lis, urls = peers(env, {"good": certs["good"]})
    configure_tls(env, urls, bundle(f"{env.dir}/cas.pem", ca.cert))
    p = env.start_tocsind()
    assert_delivered(lis["good"], run_job(env, "BEFORE")["good"], "good")
    configure_tls(env, urls, bundle(f"{env.dir}/other.pem", f"{env.dir}/other/ca.crt"))
    before = env.log().count("event=reloaded")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: env.log().count("event=reloaded") > before, 20, "the reload")
    d = run_job(env, "AFTER")["good"]
    assert d["state"] == "failed" and "unable to get local issuer" in d["last_outcome"], d
    assert len(lis["good"].requests) == 1, lis["good"].requests


def test_no_source_turns_verification_off(env):
    """Every setting of libcurl's verification options in the sources turns
    it on (VERIFYPEER 1, VERIFYHOST 2), for peers and proxies alike: a
    change that turns it off, anywhere, fails here before it ships."""
    setting = re.compile(r"CURLOPT_(PROXY_)?SSL_VERIFY(PEER|HOST)\s*,\s*([^)]*)\)")
    found = []
    for folder in ("channels", "common", "config", "dispatcher", "cli", "templates"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith((".c", ".h")):
                with open(os.path.join(ROOT, folder, name)) as f:
                    for m in setting.finditer(f.read()):
                        found.append((name, m.group(2), m.group(3).strip()))
    assert ("http.c", "PEER", "1L") in found and ("http.c", "HOST", "2L") in found, found
    bad = [x for x in found if (x[1], x[2]) not in (("PEER", "1L"), ("HOST", "2L"))]
    assert not bad, bad


def test_a_changed_ca_file_counts_from_the_next_connection(env):
    """The file is read for every new connection, not cached: replaced
    with another authority, a new connection (another peer) is refused,
    without a reload."""
    env.start_redis()
    ca, certs = make(env)
    two = {"first": ca.issue("first"), "second": ca.issue("second")}
    lis, urls = peers(env, two)
    path = bundle(f"{env.dir}/cas.pem", ca.cert)
    configure_tls(env, urls[:1], path)
    env.start_tocsind()
    assert_delivered(lis["first"], run_job(env, "FIRST")["first"], "first")
    shutil.copyfile(f"{env.dir}/other/ca.crt", path + ".new")
    os.replace(path + ".new", path)
    env.xadd_job({"id": "SECOND", "template": "outage",
                  "recipients": [{"name": "second", "webhook": urls[1][1]}]})
    check_counts(env.wait_done("SECOND", timeout=150))
    d = list(env.deliveries("SECOND").values())[0]
    assert d["state"] == "failed" and "unable to get local issuer" in d["last_outcome"], d
    assert lis["second"].requests == [], lis["second"].requests


def sms_over_tls(env, lis, ca_file=None):
    """One member on sms, two generic gateways over HTTPS in failover
    order (the wrong-name one first), channels.sms.ca_file if given; the
    member's delivery once its job is done."""
    env.start_redis()
    env.write_config(f"  crew:\n    members:\n{members(phones(1))}")
    providers = "".join(f"""      - name: {kind}
        kind: http
        url: https://localhost:{lis[kind].port}/send
        content_type: json
        body: '{{"to": "{{{{to}}}}", "text": "{{{{text}}}}"}}'
        success: {{status: [204]}}
""" for kind in ("wronghost", "good"))
    add_sms(env, providers, retry="{attempts: 2, base: 50ms, max: 100ms}",
            extra=f"    ca_file: {ca_file}\n" if ca_file else "")
    with open(env.config) as f:
        text = f.read()
    # Long timeouts: a loaded machine's handshake must not stand in for the
    # certificate's verdict.
    text = text.replace("    connect_timeout: 2s\n    timeout: 2s\n",
                        "    connect_timeout: 60s\n    timeout: 120s\n", 1)
    with open(env.config, "w") as f:
        f.write(text)
    sms_template(env, "Outage")
    env.start_tocsind()
    env.xadd_job({"id": "SMS-TLS", "template": "outage", "groups": ["crew"]})
    check_counts(env.wait_done("SMS-TLS", timeout=150))
    return list(env.deliveries("SMS-TLS").values())[0]


def test_sms_gateways_verify_certificates(env):
    """The SMS gateways share the webhooks' verification: without a CA file
    the test authority is unknown, and neither gateway gets a request."""
    ca, certs = make(env)
    lis, _ = peers(env, {"good": certs["good"], "wronghost": certs["wronghost"]})
    d = sms_over_tls(env, lis)
    assert d["state"] == "failed", d
    assert "unable to get local issuer certificate" in d["last_outcome"], d
    assert lis["good"].requests == [] and lis["wronghost"].requests == []


def test_sms_ca_file_trusts_its_authority_and_a_wrong_name_still_fails_over(env):
    """channels.sms.ca_file trusts the test authority: the wrong-name
    gateway is still refused (no request reaches it) and the message fails
    over to the good one, the record saying why the first did not take it."""
    ca, certs = make(env)
    lis, _ = peers(env, {"good": certs["good"], "wronghost": certs["wronghost"]})
    d = sms_over_tls(env, lis, bundle(f"{env.dir}/cas.pem", ca.cert))
    assert d["state"] == "sent" and d["provider"] == "good", d
    assert lis["wronghost"].requests == [], lis["wronghost"].requests
    assert [r[1] for r in lis["good"].requests] == ["/send"], lis["good"].requests
    tried = d["tried"]
    assert tried[0]["provider"] == "wronghost", tried
    assert "no alternative certificate subject name matches" in tried[0]["outcome"], tried
