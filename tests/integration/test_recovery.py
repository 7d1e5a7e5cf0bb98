"""Crash recovery: tocsind killed with SIGKILL mid-broadcast, then started
again (this instance or another one), finishes the job; every recipient is
reached at least once, duplicates stay within the in-flight cap."""

import json
import signal
import time
from collections import Counter

from faultproxy import FaultProxy
from harness import check_counts, epoch_ms, wait_for


def roster_env(env, n, in_flight):
    env.start_redis(appendonly=True)
    env.start_receiver()
    env.roster_group(n, in_flight)


def receiver_quiet(env, seconds=1.0):
    """A condition for wait_for: true once the receiver has logged no new
    request for `seconds`."""
    last = [len(env.received()), time.monotonic()]

    def quiet():
        count = len(env.received())
        if count != last[0]:
            last[:] = [count, time.monotonic()]
        return time.monotonic() - last[1] >= seconds
    return quiet


def check_complete(env, job, n, bound):
    rec = env.wait_done(job, timeout=120)
    check_counts(rec)
    assert rec["planned"] == str(n) and rec["delivered"] == str(n), rec
    seen = Counter(g["headers"]["webhook-id"] for g in env.received())
    assert len(seen) == n, f"{n - len(seen)} recipients never reached"
    dups = sum(c - 1 for c in seen.values())
    assert dups <= bound, f"{dups} duplicates, more than the in-flight cap {bound}"
    assert all(g["verified"] for g in env.received())
    assert env.pending() == 0
    # The report says the same: every recipient once, delivered.
    r = env.cli("report", job, "--json")
    rows = json.loads(r.stdout)
    assert r.returncode == 0 and len(rows) == n, (r.returncode, len(rows))
    assert {row["delivery"] for row in rows} == set(seen)
    assert all(row["state"] == "delivered" and row["attempts"] >= 1 for row in rows)
    return dups


def test_sigkill_mid_broadcast_then_restart(env):
    n, cap = 20000, 200
    roster_env(env, n, cap)
    env.start_tocsind()
    env.xadd_job({"id": "KILL", "template": "outage", "groups": ["all"]})
    for threshold in (2000, 10000):
        wait_for(lambda: int(env.job("KILL").get("delivered", 0)) > threshold, 60,
                 f"{threshold} deliveries")
        env.stop(env.tocsind_proc, signal.SIGKILL)
        env.start_tocsind()
    check_complete(env, "KILL", n, 2 * cap)
    assert int(env.job("KILL")["pass"]) == 3


def test_sigkill_after_providers_accepted_before_the_state_was_written(env):
    # tocsind talks to Redis through a proxy that, at the kill point, drops
    # everything tocsind writes: sends under way go on and the receiver
    # accepts them, but none of their outcomes reaches Redis. Then SIGKILL.
    n, cap = 20000, 200
    env.start_redis(appendonly=True)
    env.start_receiver()
    proxy = FaultProxy(env.redis_sock, faults=0)
    try:
        env.roster_group(n, cap, redis_url=f"redis://127.0.0.1:{proxy.port}")
        env.start_tocsind()
        env.xadd_job({"id": "WINDOW", "template": "outage", "groups": ["all"]})
        wait_for(lambda: int(env.job("WINDOW").get("delivered", 0)) > 5000, 60,
                 "5000 deliveries")
        proxy.black_hole()
        # The sends under way finish (the receiver takes them) and no new
        # one can be planned: wait until the receiver has had nothing new
        # for a second.
        wait_for(receiver_quiet(env), 30, "the sends under way to finish")
        env.stop(env.tocsind_proc, signal.SIGKILL)
    finally:
        proxy.stop()
    # A request tocsind had written before it died may still be on its way
    # into the receiver's log: let it land before counting.
    wait_for(receiver_quiet(env), 30, "the receiver to take what was on its way")
    # What the receiver accepted but Redis does not have as delivered.
    recorded = {d for d, v in env.deliveries("WINDOW").items() if v["state"] == "delivered"}
    window = {g["headers"]["webhook-id"] for g in env.received()} - recorded
    assert 0 < len(window) <= cap, f"{len(window)} accepted, not recorded"
    env.roster_group(n, cap)
    env.start_tocsind()
    dups = check_complete(env, "WINDOW", n, cap)
    seen = Counter(g["headers"]["webhook-id"] for g in env.received())
    # Each of them was sent again, once; nothing recorded was.
    assert all(seen[d] == 2 for d in window), [d for d in window if seen[d] != 2][:5]
    assert dups == len(window), (dups, len(window))


def test_sigkill_before_the_final_acknowledgement(env):
    n = 300
    roster_env(env, n, 1000)
    env.start_tocsind()
    env.xadd_job({"id": "LATE", "template": "outage", "groups": ["all"]})
    # Kill as soon as everything was sent, racing the last writes and the
    # XACK: whatever was recorded, the restart must finish the job.
    wait_for(lambda: len(env.received()) >= n, 60, "every request")
    env.stop(env.tocsind_proc, signal.SIGKILL)
    env.start_tocsind()
    check_complete(env, "LATE", n, n)


def test_job_submitted_again_across_a_restart_is_not_sent_again(env):
    n, cap = 2000, 100
    roster_env(env, n, cap)
    env.start_tocsind()
    job = {"id": "AGAIN", "template": "outage", "groups": ["all"]}
    first = env.xadd_job(job)
    wait_for(lambda: int(env.job("AGAIN").get("delivered", 0)) > 300, 60, "progress")
    env.stop(env.tocsind_proc, signal.SIGKILL)
    # Pressed Enter twice: the same job again while tocsind is down.
    second = env.xadd_job(job)
    env.start_tocsind()
    check_complete(env, "AGAIN", n, cap)
    assert env.job("AGAIN")["entry"] == f"normal/{first}"
    dup = [e for _, e in env.r.xrange("tocsin:events") if e.get("event") == "duplicate"]
    assert [e["entry"] for e in dup] == [f"normal/{second}"], dup
    # And once more after it is done and tocsind restarted cleanly.
    env.stop(env.tocsind_proc)
    env.start_tocsind()
    env.xadd_job(job)
    wait_for(lambda: len([e for _, e in env.r.xrange("tocsin:events")
                          if e.get("event") == "duplicate"]) == 2, 20, "the second duplicate")
    wait_for(lambda: env.pending() == 0, 20, "every entry acknowledged")
    check_complete(env, "AGAIN", n, cap)


def test_another_instance_claims_a_dead_instances_job(env):
    n, cap = 3000, 100
    roster_env(env, n, cap)
    with open(env.config) as f:
        text = f.read()
    base = text.replace("consumer: it-1", "consumer: it-a").replace(
        "shutdown_grace: 5s", "shutdown_grace: 5s\n  claim_idle: 1500ms")
    with open(env.config, "w") as f:
        f.write(base)
    a = env.start_tocsind()
    env.xadd_job({"id": "CLAIM", "template": "outage", "groups": ["all"]})
    wait_for(lambda: int(env.job("CLAIM").get("delivered", 0)) > 500, 60, "progress on a")
    env.stop(a, signal.SIGKILL)
    # b is another instance: a different consumer name in the same group.
    with open(env.config, "w") as f:
        f.write(base.replace("consumer: it-a", "consumer: it-b"))
    env.start_tocsind()
    check_complete(env, "CLAIM", n, cap)
    assert "event=claimed" in env.log()
    owners = {c["name"] for c in env.r.xinfo_consumers("tocsin:jobs:normal", "tocsind")}
    assert owners == {"it-a", "it-b"}, owners


def test_a_live_slow_instance_keeps_its_work(env):
    # Heartbeats come every claim_idle / 3: a live instance may be late by
    # two of them before its work looks idle. 1.5 s leaves a loaded machine
    # a second.
    n, cap, claim_idle = 4000, 4, 1500
    roster_env(env, n, cap)
    with open(env.config) as f:
        text = f.read().replace("shutdown_grace: 5s",
                                f"shutdown_grace: 5s\n  claim_idle: {claim_idle}ms")
    with open(env.config, "w") as f:
        f.write(text)
    env.start_tocsind()
    with open(env.config, "w") as f:
        f.write(text.replace("consumer: it-1", "consumer: it-2"))
    env.start_tocsind()
    env.xadd_job({"id": "SLOW", "template": "outage", "groups": ["all"]})
    rec = env.wait_done("SLOW", timeout=120)
    # It ran for several times claim_idle, and nobody took it over.
    took = epoch_ms(rec["done_at"]) - epoch_ms(rec["created_at"])
    assert took >= 3 * claim_idle, f"the job took {took} ms: too short to show anything"
    assert "event=claimed" not in env.log(), env.log()
    assert rec["pass"] == "1", rec
    check_complete(env, "SLOW", n, 0)
