"""/metrics families of the SMS channel, per provider, scraped from the
real listener and parsed with the Prometheus client library's parser,
while the gateway simulator (tests/peers/smsgw.js) fails and recovers or
a slow rate holds messages: the circuit breaker's state, the segments
held messages wait for, the tokens, and the requests by outcome. Label
values are the providers' configured names only."""

from harness import now_ms, wait_for
from smspeers import Gateway, add_sms, gateway_provider, members, phones, sms_template
from test_listen import scrape

COOLDOWN_MS = 15000


def setup(env, gws, n, **kw):
    env.start_redis()
    nums = phones(n)
    env.write_config(f"  crew:\n    members:\n{members(nums)}",
                     in_flight=kw.pop("in_flight", 1000))
    add_sms(env, "".join(gws), **kw)
    sms_template(env)
    env.start_tocsind()
    assert env.http_port, env.log()


def send(env, job_id):
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["crew"],
                  "vars": {"service": "payments"}})


def circuit(samples, provider):
    """The state provider's circuit is in: the one sample that is 1."""
    states = {dict(k)["state"]: v for (name, k), v in samples.items()
              if name == "tocsin_sms_provider_circuit" and dict(k)["provider"] == provider}
    assert sorted(states) == ["closed", "half_open", "open"], states
    on = [s for s, v in states.items() if v == 1]
    assert len(on) == 1 and sum(states.values()) == 1, states
    return on[0]


def requests(samples, provider):
    return {dict(k)["outcome"]: v for (name, k), v in samples.items()
            if name == "tocsin_sms_provider_requests_total" and dict(k)["provider"] == provider}


def provider_labels(samples):
    """Every label set of the tocsin_sms_provider_* samples."""
    return {k for (name, k), _ in samples.items() if name.startswith("tocsin_sms_provider_")}


def test_circuit_opens_on_failures_then_half_opens_and_closes(env):
    """failures: 2, one message at a time: a answers 500 twice and opens;
    b carries the job. While the cooldown runs a is open; after it,
    half-open; a probe that a answers closes it."""
    a, b = Gateway(env, "a", "500"), Gateway(env, "b")
    setup(env, [gateway_provider("a", a), gateway_provider("b", b)], 4, in_flight=1,
          breaker=f"{{failures: 2, cooldown: {COOLDOWN_MS // 1000}s}}")
    s = scrape(env)
    assert circuit(s, "a") == "closed" and circuit(s, "b") == "closed"
    assert requests(s, "a") == {"sent": 0, "transient": 0, "permanent": 0}

    send(env, "PM-1")
    rec = env.wait_done("PM-1", timeout=60)
    assert rec["sent"] == "4", rec
    failed_at = a.requests()[-1]["at"]
    s = scrape(env)
    # tocsind opened the breaker after the gateway logged the failing
    # request: before failed_at + cooldown it is open for certain.
    if now_ms() < failed_at + COOLDOWN_MS:
        assert circuit(s, "a") == "open", s
    else:
        assert circuit(s, "a") in ("open", "half_open"), s
    assert circuit(s, "b") == "closed"
    assert requests(s, "a") == {"sent": 0, "transient": 2, "permanent": 0}
    assert requests(s, "b") == {"sent": 4, "transient": 0, "permanent": 0}
    assert s[("tocsin_sms_provider_in_flight", (("provider", "a"),))] == 0

    a.set_mode("ok")
    wait_for(lambda: circuit(scrape(env), "a") == "half_open", COOLDOWN_MS / 1000 + 60,
             "a's breaker half-open after the cooldown")
    send(env, "PM-2")
    rec = env.wait_done("PM-2", timeout=60)
    assert rec["sent"] == "4", rec
    s = scrape(env)
    assert circuit(s, "a") == "closed", s
    assert requests(s, "a") == {"sent": 4, "transient": 2, "permanent": 0}
    # Labels: provider names from the configuration and fixed sets only.
    labels = provider_labels(s)
    assert {dict(k)["provider"] for k in labels} == {"a", "b"}, labels
    assert {tuple(sorted(dict(k))) for k in labels} <= {
        ("provider",), ("provider", "state"), ("outcome", "provider")}, labels


def test_tokens_waiting_while_a_slow_rate_holds_messages(env):
    """{per_second: 1, burst: 1} and 6 one-segment messages: the job takes
    about 5 s, and meanwhile the segments reserved ahead show as tokens
    waiting; once it is done nothing waits."""
    gw = Gateway(env, "gw")
    setup(env, [gateway_provider("gw", gw, rate="{per_second: 1, burst: 1}")], 6,
          max_segments=1)
    s = scrape(env)
    assert s[("tocsin_sms_provider_tokens_waiting", (("provider", "gw"),))] == 0
    assert s[("tocsin_sms_provider_tokens", (("provider", "gw"),))] == 1
    send(env, "PM-R")
    seen = []

    def waiting():
        s = scrape(env)
        seen.append((s[("tocsin_sms_provider_tokens_waiting", (("provider", "gw"),))],
                     s[("tocsin_sms_provider_tokens", (("provider", "gw"),))]))
        return seen[-1][0] > 0 or env.job("PM-R").get("state") == "done"

    wait_for(waiting, 60, "a scrape while the job runs")
    # The first message goes at once and the last is due 5 s later: a
    # scrape in between sees segments waiting (at most the 5 reserved
    # ahead), and the bucket then holds none.
    assert 0 < seen[-1][0] <= 5 and seen[-1][1] == 0, seen
    rec = env.wait_done("PM-R", timeout=60)
    assert rec["sent"] == "6", rec
    wait_for(lambda: scrape(env)[("tocsin_sms_provider_tokens_waiting",
                                  (("provider", "gw"),))] == 0, 30, "nothing waiting")
    assert len(gw.requests()) == 6
