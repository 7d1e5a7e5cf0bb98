"""Webhook delivery end to end: tocsind against a real Redis and a real
Standard Webhooks receiver (node, the reference library) on loopback."""

import json
import os

from harness import check_counts, delivery_id, envelope, job_key, wait_for


def two_groups(env):
    return f"""  oncall:
    members:
      - {{name: Ada Lovelace, role: CTO, webhook: "{env.hook('ada')}", channels: [webhook]}}
      - {{name: Grace Hopper, webhook: "{env.hook('grace')}"}}
  executives:
    members:
      - {{name: Ada Lovelace, role: CTO, webhook: "{env.hook('ada')}", channels: [webhook]}}
      - {{name: Linus, role: CEO, webhook: "{env.hook('linus')}"}}
"""


def setup(env, groups=None, **kw):
    env.start_redis()
    env.start_receiver()
    env.write_config(groups or two_groups(env), **kw)
    env.start_tocsind()


def test_cli_send_wait_delivers_signed_bytes(env):
    setup(env)
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--group", "executives",
                "--incident", "INC-42", "--severity", "critical", "--id", "INC-42-initial",
                "--var", "service=payments", "--var", "message=Payments are down", "--wait")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "job INC-42-initial queued on tocsin:jobs:critical" in r.stdout
    assert "state      done" in r.stdout and "webhook    3 delivered, 0 sent, 0 failed" in r.stdout, r.stdout
    got = env.received()
    # Ada is in both groups: one message, from the first group naming her.
    assert sorted(g["path"] for g in got) == ["/hooks/ada", "/hooks/grace", "/hooks/linus"], got
    vars = {"service": "payments", "message": "Payments are down"}
    who = {"ada": ("oncall", "Ada Lovelace", "CTO"), "grace": ("oncall", "Grace Hopper", None),
           "linus": ("executives", "Linus", "CEO")}
    for g in got:
        name = g["path"].rsplit("/", 1)[1]
        did = delivery_id("INC-42-initial", "webhook", env.hook(name))
        group, member, role = who[name]
        want = envelope(did, "INC-42-initial", "critical", "outage", group, member, role,
                        incident="INC-42", vars=vars)
        assert g["body"] == want, f"\n got {g['body']}\nwant {want}"
        assert g["verified"] is True, g["verify_error"]
        assert g["headers"]["webhook-id"] == did
        assert g["headers"]["content-type"] == "application/json"
    rec = env.job("INC-42-initial")
    assert rec["state"] == "done" and rec["planned"] == "3" and rec["delivered"] == "3", rec
    assert rec["webhook.delivered"] == "3" and rec["severity"] == "critical", rec
    assert rec["template"] == "outage" and rec["incident"] == "INC-42", rec
    check_counts(rec)
    dl = env.deliveries("INC-42-initial")
    assert len(dl) == 3
    for did, d in dl.items():
        assert d["state"] == "delivered" and d["attempts"] == 1, d
        assert d["channel"] == "webhook" and d["last_outcome"] == "http 204", d
        # The address that answered.
        assert d["provider"] == f"127.0.0.1:{env.receiver_port}", d
        assert did == delivery_id("INC-42-initial", "webhook", d["address"])
    ev = env.r.xrange(job_key("INC-42-initial", "events"))
    states = [e[1]["state"] for e in ev if e[1].get("delivery") == delivery_id(
        "INC-42-initial", "webhook", env.hook("ada"))]
    assert states == ["queued", "sending", "delivered"], states
    assert ev[-1][1]["state"] == "done"
    assert env.pending() == 0


def test_raw_xadd_from_python(env):
    setup(env)
    job = {"id": "MON-7", "template": "outage", "groups": ["oncall"], "severity": "high",
           "recipients": [{"name": "Status page", "webhook": env.hook("status"),
                           "channels": ["webhook"]}],
           "vars": {"service": "api", "nested": {"n": [1, 2.5, None, True]}}}
    env.xadd_job(job, "high")
    rec = env.wait_done("MON-7")
    assert rec["planned"] == "3" and rec["delivered"] == "3", rec
    check_counts(rec)
    bodies = {g["path"]: g["body"] for g in env.received()}
    did = delivery_id("MON-7", "webhook", env.hook("status"))
    assert bodies["/hooks/status"] == envelope(did, "MON-7", "high", "outage", None,
                                               "Status page", None, vars=job["vars"])
    assert all(g["verified"] for g in env.received())
    assert env.pending() == 0
    # The events stream tells watchers.
    done = [e for e in env.r.xrange("tocsin:events") if e[1].get("event") == "done"]
    assert done and done[-1][1]["job"] == "MON-7"
    # ... from its start (progress) to its end (completion), in order.
    mine = [f for _, f in env.r.xrange("tocsin:events") if f.get("job") == "MON-7"]
    assert [(f["event"], f.get("state")) for f in mine] == \
        [("accepted", "sending"), ("done", None)], mine


def test_non_2xx_is_retried_then_dead_lettered(env):
    setup(env)
    env.set_status(500)
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--id", "J500", "--wait")
    assert r.returncode == 1, r.stdout + r.stderr
    rec = env.job("J500")
    assert rec["failed"] == "2" and rec["webhook.failed"] == "2", rec
    check_counts(rec)
    for d in env.deliveries("J500").values():
        assert d["state"] == "failed" and d["last_outcome"] == "http 500", d
        assert d["attempts"] == 3, d
    got = env.received()
    assert len(got) == 6 and len({g["headers"]["webhook-id"] for g in got}) == 2
    dead = [d for _, d in env.r.xrange("tocsin:dead") if d["kind"] == "delivery"]
    assert len(dead) == 2, dead
    assert dead[0]["reason"] == "attempt 1: http 500; attempt 2: http 500; attempt 3: http 500"
    assert dead[0]["job"] == "J500" and dead[0]["channel"] == "webhook"
    assert env.r.zcard("tocsin:retry") == 0
    r = env.cli("report", "J500")
    assert r.returncode == 0 and r.stdout.count("http 500") == 2, r.stdout
    assert env.pending() == 0


def test_permanent_failure_is_not_retried(env):
    setup(env)
    env.set_status(404)
    env.xadd_job({"id": "J404", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("J404")
    assert rec["failed"] == "2", rec
    assert len(env.received()) == 2
    assert all(d["attempts"] == 1 for d in env.deliveries("J404").values())


def test_transient_failure_then_delivered_keeps_webhook_id(env):
    setup(env, retry="{attempts: 5, base: 100ms, max: 300ms}")
    # With Retry-After: 1, each retry waits at least 1 s (backoff alone may
    # draw 0 ms four times), so the switch to 204 below comes in time.
    env.set_status("503 1")
    env.xadd_job({"id": "J503", "template": "outage", "groups": ["executives"]})
    # tocsind had the 503 of both first attempts (the receiver logs a
    # request before it reads which code to answer).
    wait_for(lambda: len({e["delivery"] for _, e in env.r.xrange(job_key("J503", "events"))
                          if e.get("state") == "retrying"}) == 2, 10, "first attempts")
    env.set_status(204)
    rec = env.wait_done("J503")
    check_counts(rec)
    assert rec["delivered"] == "2", rec
    for did, d in env.deliveries("J503").items():
        assert d["state"] == "delivered" and d["attempts"] >= 2, d
        ids = {g["headers"]["webhook-id"] for g in env.received()
               if g["path"].endswith(d["address"].rsplit("/", 1)[1])}
        assert ids == {did}, ids
        states = [e[1]["state"] for e in env.r.xrange(job_key("J503", "events"))
                  if e[1].get("delivery") == did]
        assert states[:4] == ["queued", "sending", "retrying", "sending"], states
        assert states[-1] == "delivered", states
    assert env.r.zcard("tocsin:retry") == 0


def test_retry_after_is_honoured_and_survives_restart(env):
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  one:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", retry="{attempts: 3, base: 10ms, max: 10s}")
    env.start_tocsind()
    env.set_status("429 3")
    env.xadd_job({"id": "J429", "template": "outage", "groups": ["one"]})
    wait_for(lambda: env.r.zcard("tocsin:retry") == 1, 10, "the retry to be persisted")
    first = env.received()[0]["at"]
    member, due = env.r.zrange("tocsin:retry", 0, -1, withscores=True)[0]
    did = delivery_id("J429", "webhook", env.hook("ada"))
    assert member == did, member  # DESIGN.md: delivery ids by due time
    assert due >= first + 2900, (due, first)
    # Stop and start again: the retry keeps its time.
    assert env.stop(env.tocsind_proc) == 0
    env.set_status(204)
    env.start_tocsind()
    rec = env.wait_done("J429", timeout=20)
    second = env.received()[1]["at"]
    assert second - first >= 2900, second - first
    assert rec["delivered"] == "1" and env.r.zcard("tocsin:retry") == 0, rec
    check_counts(rec)


def test_allow_list_refuses_before_connecting(env):
    env.start_redis()
    env.start_receiver()
    groups = f"""  oncall:
    members:
      - {{name: Listed, webhook: "{env.hook('ok')}"}}
      - {{name: Literal, webhook: "http://192.0.2.10:9/hook"}}
      - {{name: ByName, webhook: "http://localhost:{env.receiver_port}/hooks/byname"}}
"""
    # localhost is not listed by name and resolves outside 10.0.0.0/8... but
    # 127.0.0.1 is listed, so list only the literal address and a far range.
    env.write_config(groups, allow=("127.0.0.1/32", "10.0.0.0/8"))
    env.start_tocsind()
    env.xadd_job({"id": "ALLOW", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("ALLOW")
    check_counts(rec)
    by = {d["member"]: d for d in env.deliveries("ALLOW").values()}
    assert by["Listed"]["state"] == "delivered", by["Listed"]
    assert by["Literal"]["state"] == "failed", by["Literal"]
    assert "192.0.2.10 is not in channels.webhook.allow" in by["Literal"]["last_outcome"]
    # localhost is 127.0.0.1 (listed) and ::1 (not) to libcurl: whichever
    # it tries first, the delivery goes through 127.0.0.1, and is recorded
    # as delivered (test_ssrf.py has the case where the first is refused).
    assert by["ByName"]["state"] == "delivered", by["ByName"]
    assert by["ByName"]["provider"] == f"127.0.0.1:{env.receiver_port}", by["ByName"]
    paths = [g["path"] for g in env.received()]
    assert "/hooks/ok" in paths and all(not p.endswith("/hook") for p in paths)


def test_allow_list_checks_resolved_address(env):
    env.start_redis()
    env.start_receiver()
    groups = f"""  oncall:
    members:
      - {{name: ByName, webhook: "http://localhost:{env.receiver_port}/hooks/byname"}}
"""
    env.write_config(groups, allow=("10.0.0.0/8", "hooks.example.org"))
    env.start_tocsind()
    env.xadd_job({"id": "RESOLVED", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("RESOLVED")
    d = list(env.deliveries("RESOLVED").values())[0]
    assert d["state"] == "failed", d
    assert "not in channels.webhook.allow" in d["last_outcome"], d
    assert env.received() == [], "a refused destination was contacted"
    check_counts(rec)


def test_allow_public_never_reaches_loopback(env):
    env.start_redis()
    env.start_receiver()
    groups = f"""  oncall:
    members:
      - {{name: Literal, webhook: "{env.hook('literal')}"}}
      - {{name: ByName, webhook: "http://localhost:{env.receiver_port}/hooks/byname"}}
      - {{name: Mapped, webhook: "http://[::ffff:127.0.0.1]:{env.receiver_port}/hooks/m"}}
"""
    env.write_config(groups, allow=("public",))
    env.start_tocsind()
    env.xadd_job({"id": "PUBLIC", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("PUBLIC")
    check_counts(rec)
    by = {d["member"]: d for d in env.deliveries("PUBLIC").values()}
    for name in ("Literal", "ByName", "Mapped"):
        assert by[name]["state"] == "failed", by[name]
        assert "not in channels.webhook.allow" in by[name]["last_outcome"], by[name]
    assert env.received() == [], "a loopback destination was contacted"


def test_allow_entry_with_a_port_allows_that_port_only(env):
    env.start_redis()
    env.start_receiver()
    groups = f"""  oncall:
    members:
      - {{name: Right, webhook: "{env.hook('right')}"}}
      - {{name: Wrong, webhook: "http://127.0.0.1:9/hooks/wrong"}}
"""
    env.write_config(groups, allow=(f"127.0.0.1:{env.receiver_port}",))
    env.start_tocsind()
    env.xadd_job({"id": "PORT", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("PORT")
    check_counts(rec)
    by = {d["member"]: d for d in env.deliveries("PORT").values()}
    assert by["Right"]["state"] == "delivered", by["Right"]
    assert by["Wrong"]["state"] == "failed", by["Wrong"]
    assert "127.0.0.1 is not in channels.webhook.allow" in by["Wrong"]["last_outcome"]


def test_no_proxy_from_the_environment(env):
    """http_proxy would carry every request past the allow list: tocsind
    uses only the proxy its own file names."""
    base = env.env
    dead = "http://127.0.0.1:9"
    env.env = lambda: dict(base(), http_proxy=dead, HTTP_PROXY=dead, https_proxy=dead,
                           HTTPS_PROXY=dead, all_proxy=dead, ALL_PROXY=dead)
    setup(env)
    env.xadd_job({"id": "NOPROXY", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("NOPROXY")
    assert rec["delivered"] == "2" and rec["planned"] == "2", rec
    check_counts(rec)


def test_roster_broadcast_streams_under_small_cap(env):
    env.start_redis()
    env.start_receiver()
    roster = os.path.join(env.dir, "customers.csv")
    n = 3000
    with open(roster, "w") as f:
        f.write("name,role,email,phone,webhook,channels\n")
        for i in range(n):
            # Every 500th row also carries a quoted name with a comma.
            name = f'"Customer, {i}"' if i % 500 == 0 else f"Customer {i}"
            f.write(f"{name},,,,{env.hook(f'c{i}')},webhook\n")
        # A duplicate row: the same address gets one message.
        f.write(f"Customer dup,,,,{env.hook('c7')},webhook\n")
    groups = f"""  customers:
    roster: {roster}
    channels: [webhook]
"""
    env.write_config(groups, in_flight=50)
    env.start_tocsind()
    r = env.cli("send", "--template", "outage", "--group", "customers", "--id", "BIG", "--wait",
                timeout=170)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rec = env.job("BIG")
    assert rec["planned"] == str(n) and rec["delivered"] == str(n), rec
    check_counts(rec)
    got = env.received()
    assert len(got) == n, len(got)
    assert len({g["headers"]["webhook-id"] for g in got}) == n
    assert all(g["verified"] for g in got)
    names = {json.loads(g["body"])["member"]["name"] for g in got}
    assert "Customer, 500" in names


def test_critical_overtakes_queued_normal(env):
    env.start_redis()
    env.start_receiver()
    env.write_config(two_groups(env))
    # Both wait in Redis before tocsind starts: the critical one goes first.
    env.xadd_job({"id": "LOW-1", "template": "outage", "groups": ["oncall"]}, "low")
    env.xadd_job({"id": "NORMAL-1", "template": "outage", "groups": ["oncall"]}, "normal")
    env.xadd_job({"id": "CRIT-1", "template": "outage", "groups": ["oncall"],
                  "severity": "critical"}, "critical")
    env.start_tocsind()
    for j in ("LOW-1", "NORMAL-1", "CRIT-1"):
        env.wait_done(j)
    created = {j: env.job(j)["created_at"] for j in ("LOW-1", "NORMAL-1", "CRIT-1")}
    assert created["CRIT-1"] <= created["NORMAL-1"] <= created["LOW-1"], created
    first = env.received()[0]
    assert json.loads(first["body"])["job"] == "CRIT-1", first["body"]


def test_critical_job_behind_full_broadcast_is_accepted_and_planned_at_once(env):
    """A critical job arriving while a broadcast fills in_flight still gets
    memory (the broadcast leaves a reserve), is planned by the very script
    call that accepts it, and reaches its members while the broadcast still
    has most of its way to go."""
    env.start_redis()
    env.start_receiver()
    n = 3000
    roster = env.write_roster(n)
    env.write_config(f"  all:\n    roster: {roster}\n" + two_groups(env), in_flight=60)
    env.start_tocsind()
    env.xadd_job({"id": "BULK", "template": "outage", "groups": ["all"]})
    wait_for(lambda: int(env.job("BULK").get("delivered", 0)) >= 200, 60,
             "the broadcast to be under way")
    env.xadd_job({"id": "CRIT", "template": "outage", "groups": ["oncall"],
                  "severity": "critical"}, "critical")
    rec = env.wait_done("CRIT")
    queued = [e for _, e in env.r.xrange(job_key("CRIT", "events")) if e.get("state") == "queued"]
    assert len(queued) == 2, queued
    # One script call: the acceptance's time is the planning's.
    assert all(e["at"] == rec["created_at"] for e in queued), (rec["created_at"], queued)
    check_counts(rec)
    env.wait_done("BULK", timeout=120)
    order = [json.loads(g["body"])["job"] for g in env.received()]
    last = max(i for i, j in enumerate(order) if j == "CRIT")
    assert order.count("CRIT") == 2 and order.count("BULK") == n
    assert order[last:].count("BULK") > n // 2, order[last:].count("BULK")
    check_counts(env.job("BULK"))


def test_in_flight_of_one_still_delivers(env):
    setup(env, in_flight=1)
    env.xadd_job({"id": "ONE", "template": "outage", "groups": ["oncall", "executives"]})
    rec = env.wait_done("ONE")
    assert rec["planned"] == "3" and rec["delivered"] == "3", rec
    check_counts(rec)


def test_duplicate_job_id_is_not_sent_again(env):
    setup(env)
    job = {"id": "DUP-1", "template": "outage", "groups": ["oncall"]}
    env.xadd_job(job)
    env.xadd_job(job)
    env.wait_done("DUP-1")
    wait_for(lambda: env.pending() == 0, 10, "both entries acknowledged")
    assert len(env.received()) == 2, env.received()
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--id", "DUP-1", "--wait")
    assert r.returncode == 0 and "already accepted" in r.stdout, r.stdout + r.stderr
    # --json: stdout is the summary alone, the notice goes to stderr.
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--id", "DUP-1", "--wait",
                "--json")
    assert r.returncode == 0 and "already accepted" in r.stderr, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["job"] == "DUP-1" and out["state"] == "done" and out["delivered"] == 2, out
    assert len(env.received()) == 2
    dups = [e for e in env.r.xrange("tocsin:events") if e[1].get("event") == "duplicate"]
    assert len(dups) == 3  # the second XADD, and both sends


def test_templates_render_per_group_with_json_escaping(env):
    env.start_redis()
    env.start_receiver()
    t = os.path.join(env.dir, "templates")
    with open(os.path.join(t, "outage", "webhook.json"), "w") as f:
        f.write('{"text": "{{service}} is down, {{member.name}}", "group": "{{group}}",'
                ' "job": "{{job.id}}", "severity": "{{severity}}"}\n')
    os.makedirs(os.path.join(t, "outage", "executives"))
    with open(os.path.join(t, "outage", "executives", "webhook.json"), "w") as f:
        f.write('{"text": "Executive summary: {{service}}", "role": "{{member.role}}"}\n')
    with open(os.path.join(t, "security", "webhook.json"), "w") as f:
        f.write('{"text": {{{raw}}} }\n')
    env.write_config(two_groups(env))
    env.start_tocsind()
    hostile = 'pay"ments\\ </script>\n{"x": 1}'
    env.xadd_job({"id": "TPL", "template": "outage", "groups": ["oncall", "executives"],
                  "severity": "high", "vars": {"service": hostile}}, "high")
    rec = env.wait_done("TPL")
    assert rec["delivered"] == "3", rec
    bodies = {g["path"]: json.loads(g["body"]) for g in env.received()}
    assert bodies["/hooks/grace"] == {"text": hostile + " is down, Grace Hopper",
                                      "group": "oncall", "job": "TPL", "severity": "high"}
    assert bodies["/hooks/linus"] == {"text": "Executive summary: " + hostile, "role": "CEO"}
    assert all(g["verified"] for g in env.received())
    # A body that does not render to JSON is never sent: a permanent failure.
    env.xadd_job({"id": "BADJSON", "template": "security", "groups": ["oncall"],
                  "vars": {"raw": "not json"}})
    rec = env.wait_done("BADJSON")
    assert rec["failed"] == "2", rec
    for d in env.deliveries("BADJSON").values():
        assert "does not render to valid JSON" in d["last_outcome"], d
        assert d["attempts"] == 0, d
    assert len(env.received()) == 3
    check_counts(rec)


def test_members_without_an_address_on_the_jobs_channels_are_counted(env):
    setup(env)
    env.xadd_job({"id": "UNREACH", "template": "outage", "groups": ["oncall"],
                  "channels": ["webhook"],
                  "recipients": [{"name": "Mail only", "email": "mail@example.org"}]})
    rec = env.wait_done("UNREACH")
    assert rec["planned"] == "2" and rec["unreachable"] == "1", rec
    assert rec["roster_errors"] == "0", rec
    check_counts(rec)
    r = env.cli("status", "UNREACH")
    assert "unreached  1 member with no address on the job's channels" in r.stdout, r.stdout
    r = env.cli("status", "UNREACH", "--json")
    assert json.loads(r.stdout)["unreachable"] == 1, r.stdout
