"""dispatcher.retention: a finished job's keys expire that long after it
finished, in the same step as finishing, and a tombstone outlives them so
that `tocsin status` says the job expired and its id is not sent again."""

import json

from harness import epoch_ms, job_key, now_ms, rfc3339, wait_for

DAY_MS = 86400 * 1000


def one_member(env, retention=None):
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", retention=retention)
    env.start_tocsind()


def job_keys(job_id):
    return [job_key(job_id), job_key(job_id, "deliveries"), job_key(job_id, "events")]


def tombstone(job_id):
    return "tocsin:tombstone:{" + job_id + "}"


def test_finished_job_keys_get_default_retention(env):
    one_member(env)
    env.xadd_job({"id": "KEEP", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("KEEP")
    for k in job_keys("KEEP"):
        ttl = env.r.pttl(k)
        # 30 days by default, counted from the finish (a moment ago).
        assert 30 * DAY_MS - 600_000 < ttl <= 30 * DAY_MS, (k, ttl)
    tomb = env.r.hgetall(tombstone("KEEP"))
    assert tomb == {"state": "done", "done_at": rec["done_at"], "planned": "1",
                    "expired_at": tomb["expired_at"]}, tomb
    assert 60 * DAY_MS - 600_000 < env.r.pttl(tombstone("KEEP")) <= 60 * DAY_MS
    # The keys go 30 days after done_at, to the millisecond.
    assert epoch_ms(tomb["expired_at"]) - epoch_ms(rec["done_at"]) == 30 * DAY_MS, tomb


def test_expired_job_status_and_no_resend(env):
    one_member(env, retention="2s")
    env.xadd_job({"id": "GONE", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("GONE")
    assert len(env.received()) == 1
    r = env.cli("status", "GONE")
    assert r.returncode == 0 and "done" in r.stdout, (r.returncode, r.stdout, r.stderr)
    wait_for(lambda: not any(env.r.exists(k) for k in job_keys("GONE")), 30,
             "the job's keys to expire")
    r = env.cli("status", "GONE")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.startswith(f"job GONE: expired (it was done at {rec['done_at']}; "
                               "its 1 deliveries' records expired at "), r.stdout
    assert "dispatcher.retention after" in r.stdout, r.stdout
    r = env.cli("status", "GONE", "--json")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["job"] == "GONE" and out["expired"] is True and out["state"] == "done", out
    assert out["done_at"] == rec["done_at"] and out["planned"] == "1", out
    # The same id again: the tombstone makes it a duplicate, not a new send.
    env.xadd_job({"id": "GONE", "template": "outage", "groups": ["oncall"]})
    wait_for(lambda: "job=GONE" in env.log() and "event=duplicate" in env.log(), 20,
             "the duplicate to be seen")
    wait_for(lambda: env.pending() == 0, 20, "the duplicate to be acknowledged")
    assert len(env.received()) == 1, env.received()
    assert not env.r.exists(job_key("GONE"))
    # A job never seen is still "no job".
    r = env.cli("status", "NEVER")
    assert r.returncode == 1 and "no job 'NEVER'" in r.stderr, (r.stdout, r.stderr)


def test_cancelled_sleeping_job_expires(env):
    """A job asleep until send_at is finished by `tocsin cancel` itself:
    its keys get the retention in the same step."""
    one_member(env, retention="1h")
    env.xadd_job({"id": "LATER", "template": "outage", "groups": ["oncall"],
                  "send_at": rfc3339(now_ms() + 3_600_000)})
    wait_for(lambda: env.job("LATER").get("state") == "scheduled" and
             env.pending() == 0, 20, "the job to sleep")
    assert env.r.pttl(job_key("LATER")) == -1  # not finished: kept
    r = env.cli("cancel", "LATER")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    ttl = env.r.pttl(job_key("LATER"))
    assert 3_600_000 - 600_000 < ttl <= 3_600_000, ttl
    assert env.r.hget(tombstone("LATER"), "state") == "cancelled"
    assert env.r.pttl(tombstone("LATER")) > ttl
