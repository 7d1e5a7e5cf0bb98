"""What hostile peers and producers send, against a real Redis, tocsind and
receiver: numbers that overflow (a receiver's Retry-After), bytes meant
for the commander's terminal (a job's incident, names, addresses and
reasons), and stream entries meant to exhaust tocsind's memory."""

import os
import subprocess

from harness import delivery_id, now_ms, wait_for

HOUR_MS = 3600 * 1000


def tocsin(env, *args):
    """The CLI, its output as bytes: what reaches the terminal, unchanged."""
    argv = [os.path.join(env.build, "cli", "tocsin"), "-c", env.config] + list(args)
    return subprocess.run(argv, capture_output=True, timeout=60, env=env.env(),
                          cwd=env.dir, stdin=subprocess.DEVNULL)


def sanitizer_clean(env):
    """tocsind is alive and neither sanitizer said anything."""
    assert env.tocsind_proc.poll() is None, f"tocsind exited {env.tocsind_proc.returncode}"
    log = env.log()
    for word in ("runtime error", "AddressSanitizer", "LeakSanitizer"):
        assert word not in log, log[-3000:]


# ---- Retry-After ------------------------------------------------------------------

RETRY_AFTER = [
    # (value, whether it says "longer than an hour": cut to one)
    ("9223372036854775807", True),
    ("-1", False),
    ("99999999999999999999999", True),
    ("Sun, 99 Foo 2026 99:99:99 GMT", False),
]


def test_retry_after_out_of_range(env):
    """A receiver answers 503 with a Retry-After that overflows, is
    negative, passes 2^64 or is no date: tocsind (the sanitized build)
    keeps running, the delivery is `retrying` with its next attempt at most
    an hour away (exactly the hour when the value says longer), and the job
    can be cancelled rather than waited for."""
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", retry="{attempts: 8, base: 20s, max: 1m}")
    for i, (value, cut) in enumerate(RETRY_AFTER):
        # A Retry-After holds its host back: a fresh tocsind forgets the last.
        if env.tocsind_proc:
            assert env.stop(env.tocsind_proc) == 0
        env.start_tocsind()
        env.set_status(f"503 Retry-After: {value}")
        job = f"RA{i}"
        did = delivery_id(job, "webhook", env.hook("ada"))
        sent = len(env.received())
        env.xadd_job({"id": job, "template": "outage", "groups": ["oncall"]})

        def retrying():
            d = env.deliveries(job).get(did)
            return d if d and d["state"] == "retrying" and "next_attempt_ms" in d else None
        d = wait_for(retrying, 20, f"{job} retrying after Retry-After: {value}")
        answered = env.received()[sent]["at"]
        assert env.received()[sent]["path"] == "/hooks/ada"
        due = d["next_attempt_ms"]
        assert due <= now_ms() + HOUR_MS, (value, due - now_ms())
        if cut:
            assert due >= answered + HOUR_MS - 1000, (value, due - answered)
        else:
            assert due <= now_ms() + 60 * 1000, (value, due - now_ms())
        assert env.r.zscore("tocsin:retry", f"{job}/{did}") == due, value
        sanitizer_clean(env)
        r = tocsin(env, "cancel", job)
        assert r.returncode == 0, (value, r.stdout, r.stderr)
        wait_for(lambda: env.job(job).get("done_at"), 20, f"{job} finished")
        rec = env.job(job)
        assert rec["state"] == "cancelled" and rec["cancelled"] == "1", rec
        assert env.r.zscore("tocsin:retry", f"{job}/{did}") is None
    assert env.pending() == 0
    sanitizer_clean(env)
