"""The tracker outside a running job: a delivery is moved on by its id
alone (a receipt, an acknowledgement) after its job is done, and while a
job runs beside it, and the record's counts still add up."""

import os
import subprocess

from harness import check_counts, job_key, wait_for


def settle(env, job_id, delivery, to, *frm):
    argv = [os.path.join(env.build, "tests", "settle"), f"unix://{env.redis_sock}",
            "tocsin", job_id, delivery, to, *frm]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split() if "," not in delivery else r.stdout.splitlines()


def test_settle_after_the_job_is_done(env):
    env.start_redis()
    env.start_receiver()
    env.roster_group(3, in_flight=10)
    env.start_tocsind()
    env.xadd_job({"id": "DONE", "template": "outage", "groups": ["all"]})
    rec = env.wait_done("DONE")
    assert rec["delivered"] == "3", rec
    ids = sorted(env.deliveries("DONE"))
    assert settle(env, "DONE", ids[0], "acknowledged", "delivered", "sent") == \
        ["moved", "delivered"]
    rec = env.job("DONE")
    check_counts(rec)
    assert rec["acknowledged"] == "1" and rec["delivered"] == "2", rec
    assert rec["webhook.acknowledged"] == "1", rec
    d = env.deliveries("DONE")[ids[0]]
    assert d["state"] == "acknowledged" and d["last_outcome"] == "settled by a test", d
    ev = [e for _, e in env.r.xrange(job_key("DONE", "events")) if e.get("delivery") == ids[0]]
    assert ev[-1]["state"] == "acknowledged", ev
    # Twice, or from a state it may not come from: nothing changes.
    assert settle(env, "DONE", ids[0], "acknowledged", "delivered") == \
        ["skipped", "acknowledged"]
    assert settle(env, "DONE", ids[1], "undelivered", "sent") == ["skipped", "delivered"]
    assert settle(env, "DONE", "0" * 32, "acknowledged", "delivered") == ["none"]
    assert env.job("DONE")["acknowledged"] == "1"
    check_counts(env.job("DONE"))


def test_settle_beside_a_running_job(env):
    """Deliveries of a broadcast under way are moved on by id as soon as
    they are delivered, concurrently with tocsind's own writes to the same
    record: the job finishes, and every count adds up."""
    env.start_redis()
    env.start_receiver()
    n = 600
    env.roster_group(n, in_flight=20)
    env.start_tocsind()
    env.xadd_job({"id": "RUN", "template": "outage", "groups": ["all"]})
    acked = set()

    def ack_delivered():
        done = env.job("RUN").get("state") == "done"
        new = [did for did, d in env.deliveries("RUN").items()
               if d["state"] == "delivered" and did not in acked]
        if new:
            lines = settle(env, "RUN", ",".join(new) + ",", "acknowledged", "delivered")
            assert lines == ["moved delivered"] * len(new), lines
            acked.update(new)
        return done

    wait_for(ack_delivered, 120, "the job done, acknowledging as it goes")
    ack_delivered()
    rec = env.job("RUN")
    check_counts(rec)
    assert int(rec["acknowledged"]) == len(acked) and len(acked) > 0, rec
    assert int(rec["acknowledged"]) + int(rec.get("delivered", 0)) == n, rec
    assert env.pending() == 0
