"""Intake: invalid jobs go to the dead-letter stream with a reason naming
the field, are acknowledged, and the daemon carries on; Redis trouble."""

import json
import os
import signal
import time

from harness import check_counts, epoch_ms, now_ms, wait_for


def setup(env):
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""")
    env.start_tocsind()


def broadcast_under_way(env, job_id, n, progress, appendonly=False):
    """Redis, the receiver and tocsind (in_flight 20) with a roster of n
    members, and job job_id to all of them delivered past progress."""
    env.start_redis(appendonly=appendonly)
    env.start_receiver()
    env.roster_group(n, in_flight=20)
    env.start_tocsind()
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["all"]})
    wait_for(lambda: int(env.job(job_id).get("delivered", 0)) > progress, 30, "progress")


INVALID = [
    ("not json", "{\"template\": ", "not valid JSON"),
    ("unknown field", {"template": "outage", "groups": ["oncall"], "colour": "red"},
     'unknown field "colour"'),
    ("unknown group", {"template": "outage", "groups": ["nobody"]},
     'groups[0]: unknown group "nobody"'),
    ("unknown template", {"template": "nope", "groups": ["oncall"]},
     'template: unknown template "nope"'),
    ("wrong type", {"template": "outage", "groups": "oncall"}, "groups: not an array"),
    ("no audience", {"template": "outage"}, "no audience"),
    ("bad address", {"template": "outage", "recipients": [{"name": "X", "email": "x@"}]},
     "recipients[0].email: not an email address 'x@'"),
    ("severity mismatch", {"template": "outage", "groups": ["oncall"], "severity": "low"},
     "severity: 'low' does not match"),
    ("channel not configured", {"template": "outage", "groups": ["oncall"],
                                "channels": ["sms"]},
     "channel 'sms' is not configured"),
    ("too large", {"template": "outage", "groups": ["oncall"], "vars": {"x": "y" * 70000}},
     "more than the limit of 65536"),
    ("responses", {"template": "outage", "groups": ["oncall"], "responses": ["safe", "safe"]},
     "responses[1]: the same label as responses[0]"),
    ("escalation", {"template": "outage", "groups": ["oncall"], "escalation": "page"},
     "escalation: unknown escalation policy"),
]


def test_invalid_jobs_are_dead_lettered_and_acknowledged(env):
    setup(env)
    ids = [env.xadd_job(job) for _, job, _ in INVALID]
    env.r.xadd("tocsin:jobs:normal", {"payload": "{}"})
    wait_for(lambda: env.r.xlen("tocsin:dead") == len(INVALID) + 1, 20, "dead letters")
    dead = env.r.xrange("tocsin:dead")
    for (what, _, reason), entry_id, (_, d) in zip(INVALID, ids, dead):
        assert d["entry"] == entry_id, (what, d)
        assert reason in d["reason"], f"{what}: {d['reason']!r} lacks {reason!r}"
        assert d["stream"] == "normal" and d["kind"] == "job"
    assert "no field 'job'" in dead[-1][1]["reason"]
    # The body is kept (cut at the job limit) so an operator can fix and retry.
    assert dead[0][1]["body"] == "{\"template\": "
    wait_for(lambda: env.pending() == 0, 10, "entries acknowledged")
    invalid = [e for e in env.r.xrange("tocsin:events") if e[1].get("event") == "invalid"]
    assert len(invalid) == len(INVALID) + 1
    # ... and carries on.
    env.xadd_job({"id": "AFTER", "template": "outage", "groups": ["oncall"]})
    assert env.wait_done("AFTER")["delivered"] == "1"
    assert env.tocsind_proc.poll() is None


def test_send_wait_reports_rejection(env):
    setup(env)
    # The CLI checks what it can; an unknown group fails before the XADD.
    r = env.cli("send", "--template", "outage", "--group", "nobody", "--wait")
    assert r.returncode == 1 and 'unknown group "nobody"' in r.stderr, r.stderr
    assert env.r.xlen("tocsin:jobs:normal") == 0
    r = env.cli("send", "--template", "missing", "--group", "oncall")
    assert r.returncode == 1 and 'unknown template "missing"' in r.stderr, r.stderr


def test_redis_unreachable_at_start_exits_3(env):
    env.redis_sock = os.path.join(env.dir, "nothing-here.sock")
    env.write_config("  g:\n    members:\n      - {name: A, webhook: \"http://127.0.0.1:9/x\"}\n")
    p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                  "tocsind.log", env=env.env())
    assert p.wait(15) == 3, env.log()
    assert "cannot reach Redis at unix://" in env.log(), env.log()
    for args in (["status", "X"], ["send", "--template", "outage", "--group", "g"]):
        r = env.cli(*args)
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert "cannot reach Redis" in r.stderr


def test_redis_restart_mid_broadcast_loses_nothing(env):
    n = 2000
    broadcast_under_way(env, "RESTART", n, 200, appendonly=True)
    env.stop(env.redis_proc, signal.SIGKILL)
    time.sleep(1.0)
    env.start_redis(appendonly=True)
    rec = env.wait_done("RESTART", timeout=120)
    check_counts(rec)
    assert rec["planned"] == str(n) and rec["delivered"] == str(n), rec
    got = {g["headers"]["webhook-id"] for g in env.received()}
    assert len(got) == n, len(got)
    # Resent only what was in flight when Redis went: bounded by the cap.
    assert len(env.received()) - n <= 20 + 20, len(env.received())
    assert env.pending() == 0
    assert "event=lost" in env.log() and "event=connected" in env.log()


def test_start_advises_a_smaller_redis_input_limit(env):
    setup(env)  # Redis at 1mb, the smallest proto-max-bulk-len: no advice
    assert "event=large-input-limit" not in env.log()
    env.stop(env.tocsind_proc)
    env.r.config_set("proto-max-bulk-len", "512mb")  # Redis' default
    env.start_tocsind()
    assert "event=large-input-limit proto-max-bulk-len=536870912" in env.log(), env.log()


def test_sigterm_stops_cleanly(env):
    setup(env)
    env.xadd_job({"id": "T1", "template": "outage", "groups": ["oncall"]})
    env.wait_done("T1")
    assert env.stop(env.tocsind_proc) == 0, env.log()
    assert "event=stopped" in env.log()


def test_lost_command_connection_resumes(env):
    n = 1500
    broadcast_under_way(env, "CMDKILL", n, 100)
    # Drop only tocsind's command connection (not the one blocked in
    # XREADGROUP, and not ours).
    me = env.r.client_id()
    killed = 0
    for c in env.r.client_list():
        if int(c["id"]) != me and c["cmd"] not in ("xreadgroup", "client|list"):
            killed += env.r.client_kill_filter(_id=c["id"])
    assert killed >= 1
    rec = env.wait_done("CMDKILL", timeout=60)
    check_counts(rec)
    assert rec["planned"] == str(n) and rec["delivered"] == str(n), rec
    # The runs paused and kept their outcomes: nothing was sent twice.
    ids = [g["headers"]["webhook-id"] for g in env.received()]
    assert len(ids) == n and len(set(ids)) == n, (len(ids), len(set(ids)))
    assert rec["pass"] == "1", rec
    assert env.pending() == 0
    assert "conn=cmd event=lost" in env.log() and "event=paused" in env.log()
    # The commander sees that the job waited for Redis.
    assert rec["paused"] == "1" and " for " in rec["last_pause"], rec
    r = env.cli("status", "CMDKILL")
    assert "paused     1 time while Redis was away" in r.stdout, r.stdout


def test_status_shows_when_a_stalled_job_last_moved(env):
    broadcast_under_way(env, "STALL", 2000, 100)
    # tocsind wedged (or cut off from Redis while the commander is not).
    env.tocsind_proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(2.5)
        before = now_ms()
        r = env.cli("status", "STALL")
        after = now_ms()
        j = json.loads(env.cli("status", "STALL", "--json").stdout)
    finally:
        env.tocsind_proc.send_signal(signal.SIGCONT)
    line = [x for x in r.stdout.splitlines() if x.startswith("  last event ")]
    assert len(line) == 1, r.stdout
    assert j["state"] == "sending" and j["last_event_at"] == line[0].split()[2], (j, line)
    # Whole seconds from the last event to when the command asked Redis
    # (the stall's 2.5 s, and whatever the machine took on top).
    ago = int(line[0].split("(")[1].split(" ")[0])
    last = epoch_ms(j["last_event_at"])
    assert (before - last) // 1000 <= ago <= (after - last) // 1000, (line, before, after)
    env.wait_done("STALL", timeout=60)
    r = env.cli("status", "STALL")
    assert "  done " in r.stdout and "last event" not in r.stdout, r.stdout


def test_redis_that_requires_a_login(env):
    password = "pw-" + os.urandom(8).hex()
    env.start_redis(password=password)
    env.start_receiver()
    # tocsind logs in as an ACL user, the commander as the default user.
    env.r.acl_setuser("tocsind", enabled=True, passwords=["+" + password],
                      keys=["*"], channels=["*"], commands=["+@all"])
    oncall = f"  oncall:\n    members:\n      - {{name: Ada, webhook: \"{env.hook('ada')}\"}}\n"
    env.write_config(oncall)
    commander = os.path.join(env.dir, "commander.yaml")
    os.rename(env.config, commander)
    env.redis_user = "tocsind"
    env.write_config(oncall)
    env.start_tocsind()
    r = env.cli("-c", commander, "send", "--template", "outage", "--group", "oncall",
                "--id", "AUTH-1", "--wait", config=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert env.job("AUTH-1")["delivered"] == "1"
    # The server's password changes under a running tocsind: its logins are
    # refused (logged, tried again with backoff), the job waits; the password
    # comes back and the job goes out.
    env.r.acl_setuser("tocsind", enabled=True, passwords=["-" + password, "+other"])
    env.r.client_kill_filter(_type="normal", skipme=True)
    env.xadd_job({"id": "AUTH-2", "template": "outage", "groups": ["oncall"]})
    wait_for(lambda: "event=login-failed step=AUTH" in env.log(), 20, "a refused login")
    time.sleep(3)
    # Two connections with backoff (0.1, 0.2, 0.4, 0.8, 1.6 s): a handful
    # of tries each, not one every few ms.
    assert env.log().count("event=login-failed") <= 20, env.log().count("event=login-failed")
    assert "WRONGPASS" in env.log() and password not in env.log()
    assert env.job("AUTH-2") == {}
    env.r.acl_setuser("tocsind", enabled=True, passwords=["+" + password])
    env.wait_done("AUTH-2", timeout=30)
    # The login cannot change with a reload: refused, the running one kept.
    good = open(env.config).read()
    for key, text in (("redis.username", good.replace("username: tocsind", "username: x")),
                      ("redis.password", good.replace("${TOCSIN_REDIS_PASSWORD}",
                                                      "${TOCSIN_WEBHOOK_SECRET}"))):
        with open(env.config, "w") as f:
            f.write(text)
        env.tocsind_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: f"event=reload-refused key={key}" in env.log(), 10, f"{key} refused")
    assert env.tocsind_proc.poll() is None
    # A wrong password: both refuse to start, saying why, never showing it.
    with open(env.config, "w") as f:
        f.write(good)
    env.redis_password = "not-" + password
    r = env.cli("-c", commander, "status", "AUTH-1", config=False)
    assert r.returncode == 3 and "Redis refused the login: WRONGPASS" in r.stderr, r.stderr
    assert env.redis_password not in r.stdout + r.stderr
    env.stop(env.tocsind_proc)
    p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                  "tocsind-wrong.log", env=env.env())
    assert p.wait(20) == 3
    with open(os.path.join(env.dir, "tocsind-wrong.log")) as f:
        log = f.read()
    assert "Redis refused the login: WRONGPASS" in log and env.redis_password not in log, log


def test_redis_that_starts_requiring_a_login(env):
    setup(env)
    env.xadd_job({"id": "OPEN", "template": "outage", "groups": ["oncall"]})
    env.wait_done("OPEN")
    # Logged-in connections stay; tocsind's next ones are refused.
    env.r.config_set("requirepass", "pw-" + os.urandom(8).hex())
    env.r.client_kill_filter(_type="normal", skipme=True)
    wait_for(lambda: "Redis now requires a login" in env.log(), 20, "the refusal")
    time.sleep(3)
    assert env.log().count("event=login-failed") <= 20, env.log().count("event=login-failed")
    assert env.log().count("event=read-failed") <= 8, env.log().count("event=read-failed")
    env.r.config_set("requirepass", "")
    env.xadd_job({"id": "AGAIN-OPEN", "template": "outage", "groups": ["oncall"]})
    env.wait_done("AGAIN-OPEN", timeout=30)
    assert env.tocsind_proc.poll() is None


def test_sighup_reloads_without_resending_and_refuses_bad_config(env):
    env.start_redis()
    env.start_receiver()
    n = 3000
    env.roster_group(n, in_flight=50)
    good = open(env.config).read()
    env.start_tocsind()
    env.xadd_job({"id": "HUP", "template": "outage", "groups": ["all"]})
    for _ in range(10):
        env.tocsind_proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    rec = env.wait_done("HUP", timeout=60)
    check_counts(rec)
    got = [g["headers"]["webhook-id"] for g in env.received()]
    assert len(got) == n and len(set(got)) == n, (len(got), len(set(got)))
    assert "event=reloaded" in env.log()
    # A bad configuration is refused, with its errors, and the old one kept.
    with open(env.config, "w") as f:
        f.write(good.replace("in_flight: 50", "in_flight: lots"))
    env.tocsind_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "event=reload-refused" in env.log(), 10, "the refusal")
    assert "dispatcher.in_flight" in env.log()
    env.xadd_job({"id": "AFTER-BAD", "template": "outage", "groups": ["all"]})
    assert env.wait_done("AFTER-BAD", timeout=60)["delivered"] == str(n)
    # A good one with a new group takes effect.
    reloads = env.log().count("event=reloaded")
    with open(env.config, "w") as f:
        f.write(good + f"  extra:\n    members:\n      - {{name: X, webhook: \"{env.hook('x')}\"}}\n")
    env.tocsind_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: env.log().count("event=reloaded") > reloads, 10, "the reload")
    env.xadd_job({"id": "NEWGROUP", "template": "outage", "groups": ["extra"]})
    assert env.wait_done("NEWGROUP")["delivered"] == "1"
    assert env.tocsind_proc.poll() is None


def test_paused_redis_longer_than_timeouts_loses_nothing(env):
    n = 2000
    broadcast_under_way(env, "PAUSE", n, 200, appendonly=True)
    env.redis_proc.send_signal(signal.SIGSTOP)
    try:
        # Longer than the 5 s after which tocsind gives up on a reply.
        time.sleep(7)
    finally:
        env.redis_proc.send_signal(signal.SIGCONT)
    rec = env.wait_done("PAUSE", timeout=90)
    check_counts(rec)
    assert rec["planned"] == str(n) and rec["delivered"] == str(n), rec
    assert len({g["headers"]["webhook-id"] for g in env.received()}) == n
    assert len(env.received()) - n <= 2 * 20, len(env.received())
    assert env.pending() == 0
    assert "event=stalled" in env.log()
    assert env.tocsind_proc.poll() is None


def test_check_config_compiles_templates(env):
    env.write_config("  g:\n    members:\n      - {name: A, webhook: \"http://127.0.0.1:9/x\"}\n")
    r = env.cli("check-config", env.config, config=False)
    assert r.returncode == 0 and "ok (1 group)" in r.stdout, r.stdout + r.stderr
    with open(os.path.join(env.dir, "templates", "outage", "webhook.json"), "w") as f:
        f.write('{"text": "ok"}\n{{#open}}\n')
    r = env.cli("check-config", env.config, config=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "outage/webhook.json:2: unclosed section 'open'" in r.stderr, r.stderr
    # ... and tocsind refuses to start on it, naming the same place.
    p = env.spawn([os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                  "tocsind.log", env=env.env())
    assert p.wait(15) == 1
    assert "outage/webhook.json:2: unclosed section 'open'" in env.log()


def test_lost_intake_connection_interrupts_nothing(env):
    n = 1500
    broadcast_under_way(env, "INTAKE", n, 100)
    killed = 0
    for c in env.r.client_list():
        if c["cmd"] == "xreadgroup":
            killed += env.r.client_kill_filter(_id=c["id"])
    assert killed == 1
    # A job sent meanwhile is read once intake is back.
    env.xadd_job({"id": "MEANWHILE", "template": "outage", "groups": ["all"]})
    rec = env.wait_done("INTAKE", timeout=60)
    assert env.wait_done("MEANWHILE", timeout=60)["delivered"] == str(n)
    check_counts(rec)
    assert rec["delivered"] == str(n) and rec["pass"] == "1", rec
    ids = [g["headers"]["webhook-id"] for g in env.received()]
    assert len(ids) == 2 * n and len(set(ids)) == 2 * n, (len(ids), len(set(ids)))
    assert "conn=intake event=lost" in env.log()
    assert "event=interrupted" not in env.log()


def test_job_ids_that_look_like_another_jobs_keys(env):
    """A producer's id may contain ':'. Job K1's keys are braced, so jobs
    named K1:events and K1:deliveries are jobs of their own: K1's audit
    trail and deliveries stay K1's."""
    setup(env)
    for job_id in ("K1", "K1:events", "K1:deliveries"):
        env.xadd_job({"id": job_id, "template": "outage", "groups": ["oncall"]})
    for job_id in ("K1", "K1:events", "K1:deliveries"):
        rec = env.wait_done(job_id)
        assert rec["delivered"] == "1", (job_id, rec)
        check_counts(rec)
        assert len(env.deliveries(job_id)) == 1, (job_id, env.deliveries(job_id))
        assert env.r.type(f"tocsin:job:{{{job_id}}}:events") == "stream"
    assert env.pending() == 0


def test_id_less_jobs_with_one_entry_id_on_two_streams(env):
    """Entry ids are unique per stream only: two id-less jobs written to
    the normal and critical streams in one MULTI can get the same entry id.
    Each is its own job, <severity>-<entry id>, and both are sent."""
    setup(env)
    job = json.dumps({"template": "outage", "groups": ["oncall"]})
    p = env.r.pipeline(transaction=True)
    p.xadd("tocsin:jobs:normal", {"job": job}, id="1796021844832-0")
    p.xadd("tocsin:jobs:critical", {"job": job}, id="1796021844832-0")
    p.execute()
    for job_id in ("critical-1796021844832-0", "normal-1796021844832-0"):
        rec = env.wait_done(job_id)
        assert rec["delivered"] == "1", (job_id, rec)
    assert not [f for _, f in env.r.xrange("tocsin:events") if f.get("event") == "duplicate"]
    assert env.pending() == 0


def test_records_stay_json_with_hostile_names_and_long_addresses(env):
    """A name of a thousand control characters and a 2,000-byte address
    make a record that is still valid JSON: the job finishes, and its
    report reads every record."""
    setup(env)
    url = env.hook("x" * 1900)
    assert len(url) <= 2048
    name = "\x01\x1b" * 500 + "\u00e9"  # 1002 bytes (the limit is 1024), 6 each escaped
    env.xadd_job({"id": "HOSTILE", "template": "outage",
                  "recipients": [{"name": name, "webhook": url}]})
    rec = env.wait_done("HOSTILE")
    check_counts(rec)
    assert rec["delivered"] == "1", rec
    (d,) = env.deliveries("HOSTILE").values()  # json.loads of every record
    assert d["address"] == url and d["member"] == name and d["state"] == "delivered", d
    r = env.cli("report", "HOSTILE", "--json")
    assert r.returncode == 0, r.stderr
