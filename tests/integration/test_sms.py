"""The SMS channel end to end against the gateway simulator on loopback
(tests/peers/smsgw.js, a generic `kind: http` gateway): what a provider is
sent, what the delivery record says, failover to the next provider, the
circuit breaker, and bad answers bounded and recorded."""

import json
import signal

from harness import check_counts, delivery_id, now_ms, wait_for
from smspeers import Gateway, add_sms, gateway_provider, members, phones, sms_template


def setup(env, gws, n=3, **kw):
    """n members on sms, providers gws (Gateway, in failover order)."""
    env.start_redis()
    nums = phones(n)
    env.write_config(f"  crew:\n    members:\n{members(nums)}", in_flight=kw.pop("in_flight", 1000))
    add_sms(env, "".join(gateway_provider(g.name, g) for g in gws), **kw)
    sms_template(env)
    env.start_tocsind()
    return nums


def send(env, job_id, **vars):
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments", **vars}})
    return env.wait_done(job_id, timeout=60)


def by_phone(env, job_id):
    return {d["address"]: d for d in env.deliveries(job_id).values()}


def test_gateway_gets_json_body_and_record_keeps_segments_and_provider(env):
    gw = Gateway(env, "gw")
    nums = setup(env, [gw])
    rec = send(env, "SMS-1")
    check_counts(rec)
    assert rec["sent"] == "3" and rec.get("sms.sent") == "3", rec
    got = gw.requests()
    assert len(got) == 3
    bodies = sorted((json.loads(g["body"]) for g in got), key=lambda b: b["to"])
    assert bodies == [{"to": p, "text": f"Outage of payments for M{i}"}
                      for i, p in enumerate(nums)], bodies
    assert all(g["headers"]["content-type"] == "application/json" for g in got)
    ids = {g["id"] for g in got}
    for p, d in by_phone(env, "SMS-1").items():
        assert d["state"] == "sent" and d["channel"] == "sms", d
        assert d["provider"] == "gw" and d["provider_message_id"] in ids, d
        assert d["segments"] == 1 and d["encoding"] == "gsm7", d
        assert d["tried"] == [{"provider": "gw", "outcome": "accepted (http 200)"}], d


def test_unicode_and_long_text_count_segments(env):
    gw = Gateway(env, "gw")
    setup(env, [gw], n=1)
    # 117 UTF-16 units: two segments of 67.
    rec = send(env, "SMS-U", service="Zürich ✓ " + "é" * 91)
    assert rec["sent"] == "1", rec
    (d,) = env.deliveries("SMS-U").values()
    assert d["encoding"] == "ucs2" and d["segments"] == 2, d


def test_failover_sends_at_once_to_the_next_provider(env):
    a, b = Gateway(env, "a", "500"), Gateway(env, "b")
    nums = setup(env, [a, b])
    rec = send(env, "SMS-F")
    check_counts(rec)
    assert rec["sent"] == "3", rec
    assert sorted(json.loads(g["body"])["to"] for g in a.requests()) == nums
    assert sorted(json.loads(g["body"])["to"] for g in b.requests()) == nums
    for d in by_phone(env, "SMS-F").values():
        assert d["provider"] == "b" and d["attempts"] == 2, d
        assert d["tried"] == [{"provider": "a", "outcome": "http 500"},
                              {"provider": "b", "outcome": "accepted (http 200)"}], d
    out = env.cli("report", "SMS-F").stdout
    assert out.count("tried a: http 500") == 3 and out.count("via b, message id gw-") == 3, out
    assert out.count("1 segment, gsm7") == 3, out
    # At once: the second attempt is not backed off (retry base is 50ms,
    # so this only shows in the audit trail's order, not in time).
    ev = env.r.xrange("tocsin:job:{SMS-F}:events")
    assert not any(e.get("state") == "retrying" and "held" in e.get("outcome", "")
                   for _, e in ev)


def test_bad_answers_are_bounded_recorded_and_failed_over(env):
    """A body-level failure, a malformed body, a hang past the timeout, a
    429 with Retry-After: each is transient, recorded with its reason, and
    the next provider carries the message. A huge answer is read bounded."""
    gws = [Gateway(env, "fail", "fail"), Gateway(env, "bad", "malformed"),
           Gateway(env, "slow", "hang"), Gateway(env, "busy", "429 30"),
           Gateway(env, "huge", "huge"), Gateway(env, "ok")]
    setup(env, gws, n=1, retry="{attempts: 6, base: 50ms, max: 200ms}")
    rec = send(env, "SMS-B")
    assert rec["sent"] == "1", rec
    (d,) = env.deliveries("SMS-B").values()
    assert d["provider"] == "ok" and d["provider_message_id"] == "gw-1", d
    tried = d["tried"]
    assert [t["provider"] for t in tried] == ["fail", "bad", "slow", "busy", "huge", "ok"], \
        tried
    out = [t["outcome"] for t in tried]
    assert out[0].startswith("http 200, but the answer has another value at \"/ok\""), out
    assert out[1].startswith("http 200, but the answer is not JSON: \"{\\\"ok\\\": tru"), out
    assert "timed out" in out[2].lower() or "timeout" in out[2].lower(), out
    assert out[3] == "http 429", out
    assert out[4].startswith("http 200, but the answer is not JSON") and \
        out[4].endswith("(answer cut at 16384 bytes)"), out
    assert env.tocsind_proc.poll() is None


def test_every_provider_failing_backs_off_then_dead_letters(env):
    a, b = Gateway(env, "a", "500"), Gateway(env, "b", "500")
    setup(env, [a, b], n=1, retry="{attempts: 4, base: 50ms, max: 200ms}")
    rec = send(env, "SMS-D")
    assert rec["failed"] == "1", rec
    (d,) = env.deliveries("SMS-D").values()
    # Four requests in all: a, b, then (after a backoff) a, b again.
    assert d["attempts"] == 4 and len(a.requests()) == 2 and len(b.requests()) == 2, d
    assert [t["provider"] for t in d["tried"]] == ["a", "b", "a", "b"], d
    dead = env.r.xrange("tocsin:dead")
    assert len(dead) == 1 and "http 500" in json.dumps(dead[0][1]), dead


def test_breaker_opens_skips_then_probes_and_closes(env):
    """failures: 2. One message at a time (in_flight 1): a fails twice and
    opens; the rest go straight to b. After the cooldown one probe goes to
    a, which answers again: closed, it carries the next job."""
    a, b = Gateway(env, "a", "500"), Gateway(env, "b")
    setup(env, [a, b], n=6, in_flight=1, breaker="{failures: 2, cooldown: 2s}")
    rec = send(env, "SMS-K1")
    assert rec["sent"] == "6", rec
    assert len(a.requests()) == 2, a.requests()
    assert len(b.requests()) == 6
    opened = wait_for(lambda: a.requests()[-1]["at"], 5, "a's last request")
    a.set_mode("ok")
    # Wait out the cooldown (the product's own clock), then a new job.
    wait_for(lambda: __import__("time").time() * 1000 > opened + 2500, 10, "the cooldown")
    rec = send(env, "SMS-K2")
    assert rec["sent"] == "6", rec
    ds = by_phone(env, "SMS-K2").values()
    assert all(d["provider"] == "a" and d["attempts"] == 1 for d in ds), list(ds)
    assert len(a.requests()) == 8


def test_gateway_outside_allow_is_refused_and_failed_over(env):
    env.start_redis()
    a, b = Gateway(env, "a"), Gateway(env, "b")
    env.write_config(f"  crew:\n    members:\n{members(phones(1))}")
    add_sms(env, gateway_provider("a", a).replace("127.0.0.1", "localhost") +
            gateway_provider("b", b))
    text = open(env.config).read().replace("allow: [127.0.0.0/8]", "allow: [public]")
    text = text.replace(f"url: {b.url}", f"url: {b.url}".replace("127.0.0.1", "localhost"))
    open(env.config, "w").write(text)
    sms_template(env)
    env.start_tocsind()
    rec = send(env, "SMS-A")
    assert rec["failed"] == "1", rec
    (d,) = env.deliveries("SMS-A").values()
    assert "not in channels.sms.allow" in d["last_outcome"], d
    assert [t["provider"] for t in d["tried"]] == ["a", "b", "a", "b"], d
    assert all("not in channels.sms.allow" in t["outcome"] for t in d["tried"]), d
    assert a.requests() == [] and b.requests() == []
    assert delivery_id("SMS-A", "sms", phones(1)[0]) in env.deliveries("SMS-A")


def test_national_numbers_are_normalised_from_config_roster_and_job(env):
    """default_region US: an inline member, a roster row and a job's
    recipient written nationally reach the gateway in E.164; a recipient
    whose number is not possible dead-letters the job, naming it."""
    gw = Gateway(env, "gw")
    env.start_redis()
    roster = f"{env.dir}/phones.csv"
    with open(roster, "w") as f:
        f.write('name,phone,channels\nRow,"(415) 555-0150",sms\n')
    env.write_config(f"""  crew:
    members:
      - {{name: Inline, phone: "415.555.0140", channels: [sms]}}
  rows:
    roster: {roster}
""")
    add_sms(env, gateway_provider("gw", gw))
    sms_template(env)
    env.start_tocsind()
    env.xadd_job({"id": "NAT", "template": "outage", "groups": ["crew", "rows"],
                  "recipients": [{"name": "Adhoc", "phone": "415 555 0160"}],
                  "vars": {"service": "payments"}})
    rec = env.wait_done("NAT", timeout=60)
    assert rec["sent"] == "3", rec
    assert sorted(json.loads(g["body"])["to"] for g in gw.requests()) == \
        ["+14155550140", "+14155550150", "+14155550160"]
    env.xadd_job({"id": "NAT-BAD", "template": "outage",
                  "recipients": [{"name": "Short", "phone": "555 01"}]})
    dead = wait_for(lambda: env.r.xrange("tocsin:dead"), 30, "the dead letter")
    text = json.dumps(dead[-1][1])
    assert "recipients[0].phone" in text and "not a possible phone number" in text, text


def test_max_per_job_refuses_before_anything_is_sent(env):
    """6 members, two segments each (a 200-character text): 12 segments
    over max_per_job 10 is refused, with the count; nothing is sent. The
    same job for 5 members (10 segments) goes."""
    gw = Gateway(env, "gw")
    setup(env, [gw], n=6, extra="    max_per_job: 10\n")
    sms_template(env, "{{service}} {{member.name}}")
    env.xadd_job({"id": "BUDGET", "template": "outage", "groups": ["crew"],
                  "vars": {"service": "x" * 200}})
    dead = wait_for(lambda: env.r.xrange("tocsin:dead"), 30, "the dead letter")
    text = json.dumps(dead[-1][1])
    assert "would send 12 SMS segments, more than channels.sms.max_per_job 10" in text, text
    assert env.job("BUDGET").get("state") is None
    env.xadd_job({"id": "BUDGET-OK", "template": "outage",
                  "recipients": [{"name": f"R{i}", "phone": p}
                                 for i, p in enumerate(phones(5))],
                  "vars": {"service": "x" * 200}})
    rec = env.wait_done("BUDGET-OK", timeout=60)
    assert rec["sent"] == "5", rec
    assert len(gw.requests()) == 5
    assert all(d["segments"] == 2 for d in env.deliveries("BUDGET-OK").values())


def segments_of(text):
    """GSM-7 segments of an ASCII text (what the test sends)."""
    return 1 if len(text) <= 160 else -(-len(text) // 153)


def test_rate_counts_segments_per_provider(env):
    """A provider at {per_second: 20, burst: 3}, texts of 1 to 3 segments:
    the texts a job of 40 members needs (79 segments) cannot all arrive
    before (79 - 3) / 20 s after the job was submitted, in no window of t
    seconds do more than burst + 20 t segments arrive (and one message's
    excess: a send made late can meet the next one's slot), and over the
    run the rate is within 10% of 20 a second."""
    gw = Gateway(env, "gw")
    env.start_redis()
    nums = phones(40)
    # M0..M39 with names of 1 to 3 segments' worth of text.
    names = [("n" * (10 + 150 * (i % 3))) for i in range(40)]
    mem = "".join(f'      - {{name: "{names[i]}{i}", phone: "{p}", channels: [sms]}}\n'
                  for i, p in enumerate(nums))
    env.write_config(f"  crew:\n    members:\n{mem}")
    add_sms(env, gateway_provider("gw", gw, rate="{per_second: 20, burst: 3}"))
    sms_template(env, "{{member.name}}")
    env.start_tocsind()
    t0 = now_ms()
    env.xadd_job({"id": "RATE", "template": "outage", "groups": ["crew"]})
    rec = env.wait_done("RATE", timeout=120)
    assert rec["sent"] == "40", rec
    got = sorted((g["at"], segments_of(json.loads(g["body"])["text"])) for g in gw.requests())
    total = sum(s for _, s in got)
    assert total == sum(segments_of(n + str(i)) for i, n in enumerate(names)) == 79, total
    assert got[-1][0] >= t0 + (total - 3) * 1000 // 20, (got[-1][0] - t0)
    for i in range(len(got)):
        for j in range(i, len(got)):
            t = (got[j][0] - got[i][0]) / 1000
            n = sum(s for _, s in got[i:j + 1])
            assert n <= 3 + 20 * t + 3, (i, j, n, t)
    span = (got[-1][0] - got[0][0]) / 1000
    rate = (total - got[0][1] - 3) / span
    assert 18 <= rate <= 22, rate
    assert all(d["segments"] == segments_of(d["member"]) for d in env.deliveries("RATE").values())


def test_retry_after_holds_one_provider_while_the_next_carries_on(env):
    """a answers 429 with Retry-After: 60 to the first message: a is held
    back (not opened: failures is 5), so the rest of the job (one at a
    time) goes straight to b without asking a again."""
    a, b = Gateway(env, "a", "429 60"), Gateway(env, "b")
    setup(env, [a, b], n=5, in_flight=1)
    rec = send(env, "SMS-H")
    assert rec["sent"] == "5", rec
    assert len(a.requests()) == 1 and len(b.requests()) == 5, (a.requests(), b.requests())
    ds = list(by_phone(env, "SMS-H").values())
    assert sum(d["attempts"] == 2 for d in ds) == 1 and all(d["provider"] == "b" for d in ds)


def test_a_gateway_body_that_is_no_template_is_a_configuration_error(env):
    """tocsin check-config and tocsind refuse it at load, naming the key,
    rather than failing every send."""
    gw = Gateway(env, "gw")
    env.start_redis()
    env.write_config(f"  crew:\n    members:\n{members(phones(1))}")
    add_sms(env, gateway_provider("gw", gw).replace('"{{{{text}}}}"', '"{{{{#text}}}}"')
            .replace('"{{text}}"', '"{{#text}}"'))
    sms_template(env)
    r = env.cli("check-config", env.config, config=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "channels.sms.providers[0].body: not a template: provider gw body:1: " \
        in r.stderr, r.stderr
    p = env.spawn([env.build + "/dispatcher/tocsind", "-c", env.config], "tocsind.log",
                  env=env.env())
    assert p.wait(30) != 0
    assert "channels.sms.providers[0].body: not a template" in env.log()


def test_reload_keeps_a_providers_state_and_takes_new_providers(env):
    """failures: 1. a fails once and opens (cooldown 1h); a reload that
    adds provider c after b keeps a open (same name and kind), so the next
    job skips a; with b now failing, c carries it."""
    a, b, c = Gateway(env, "a", "500"), Gateway(env, "b"), Gateway(env, "c")
    setup(env, [a, b], n=1, breaker="{failures: 1, cooldown: 1h}")
    rec = send(env, "SMS-R1")
    assert rec["sent"] == "1" and len(a.requests()) == 1, rec
    text = open(env.config).read().replace(
        gateway_provider("b", b), gateway_provider("b", b) + gateway_provider("c", c))
    open(env.config, "w").write(text)
    b.set_mode("500")
    reloads = env.log().count("event=reloaded")
    env.tocsind_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: env.log().count("event=reloaded") > reloads, 30, "the reload")
    rec = send(env, "SMS-R2")
    assert rec["sent"] == "1", rec
    (d,) = env.deliveries("SMS-R2").values()
    assert [t["provider"] for t in d["tried"]] == ["b", "c"], d
    assert len(a.requests()) == 1
