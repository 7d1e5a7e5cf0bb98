"""The per-host rate of channels.webhook (rate: {per_second, burst}), end to
end, asserting only what does not depend on the machine's speed: a token
bucket lets at most burst + per_second * t requests to one destination
(host and port) through in any t seconds, so a broadcast of n cannot end
before (n - burst) / per_second after it was submitted; sending slower
never breaks that. Never an upper bound on time, never "at least" a rate."""

from collections import Counter

from faultproxy import FaultProxy
from harness import check_counts, delivery_id, epoch_ms, job_key, now_ms, wait_for

PER_SECOND, BURST = 40, 5


def sends(env, job_id):
    """Per delivery of job job_id, the times (ms) of its `sending` events."""
    out = {}
    for _, e in env.r.xrange(job_key(job_id, "events")):
        if e.get("state") == "sending":
            out.setdefault(e["delivery"], []).append((epoch_ms(e["at"]), e.get("outcome")))
    return out


def test_rate_holds_one_host_to_its_bucket_and_no_other_host(env):
    """n members on the receiver (one destination) at 40/s with a burst of
    5; a small job to another destination (the fault proxy, passing
    everything through, on its own port) is not held back by that rate."""
    env.start_redis()
    env.start_receiver()
    proxy = FaultProxy(env.receiver_port, "cut", faults=0)
    n, m = 120, 5
    other = [f"http://127.0.0.1:{proxy.port}/hooks/other{i}" for i in range(m)]
    try:
        roster = env.write_roster(n)
        members = "".join(f'      - {{name: O{i}, webhook: "{url}"}}\n'
                          for i, url in enumerate(other))
        env.write_config(f"  slow:\n    roster: {roster}\n  fast:\n    members:\n{members}",
                         in_flight=1000)
        rate = f"timeout: 5s\n    rate: {{per_second: {PER_SECOND}, burst: {BURST}}}"
        text = open(env.config).read().replace("timeout: 5s", rate)
        open(env.config, "w").write(text)
        env.start_tocsind()

        t0 = now_ms()
        env.xadd_job({"id": "SLOW", "template": "outage", "groups": ["slow"]})
        # Once the receiver has SLOW's first request, SLOW's deliveries
        # planned with it have reserved their slots (a batch passes the
        # rate in one go): were the bucket shared, FAST's would come after
        # theirs, past the bound below.
        wait_for(lambda: env.received(), 30, "SLOW's first request")
        env.xadd_job({"id": "FAST", "template": "outage", "groups": ["fast"]})
        fast = env.wait_done("FAST", timeout=60)
        slow = env.wait_done("SLOW", timeout=120)
    finally:
        proxy.stop()

    bound = t0 + (n - BURST) * 1000 // PER_SECOND  # exact: 2875 ms
    check_counts(slow)
    check_counts(fast)
    assert slow["delivered"] == str(n) and fast["delivered"] == str(m), (slow, fast)
    got = env.received()
    assert all(g["verified"] for g in got)
    slow_ids = {delivery_id("SLOW", "webhook", env.hook(f"u{i}")) for i in range(n)}
    fast_ids = {delivery_id("FAST", "webhook", url) for url in other}
    seen = Counter(g["headers"]["webhook-id"] for g in got)
    # Every delivery once, nothing else.
    assert set(seen) == slow_ids | fast_ids and set(seen.values()) == {1}, seen

    # (1) The machine-independent bound, at the receiver and in the audit
    # trail (each send is recorded before it starts, at or after its slot).
    slow_at = sorted(g["at"] for g in got if g["headers"]["webhook-id"] in slow_ids)
    trail = sends(env, "SLOW")
    assert set(trail) == slow_ids, len(trail)
    assert all(t == [(t[0][0], "attempt 1")] for t in trail.values()), trail
    sent_at = sorted(t[0][0] for t in trail.values())
    assert sent_at[0] >= t0, (sent_at[0], t0)
    assert slow_at[-1] >= bound, f"last request {slow_at[-1] - t0} ms after t0 < {bound - t0}"
    assert sent_at[-1] >= bound, f"last send {sent_at[-1] - t0} ms after t0 < {bound - t0}"

    # The rate achieved, first send to last request: not faster than the
    # rate (10% for the first sends, recorded a moment after their slot),
    # with the burst on top.
    span = (slow_at[-1] - sent_at[0]) / 1000
    assert span > 0 and n / span <= PER_SECOND * 1.1 + BURST / span, (n / span, span)

    # (3) The other destination has its own bucket: FAST was done before
    # SLOW's rate could possibly have let SLOW end.
    fast_at = [g["at"] for g in got if g["headers"]["webhook-id"] in fast_ids]
    assert len(fast_at) == m and max(fast_at) < bound, \
        f"FAST's last request {max(fast_at) - t0} ms after t0 >= {bound - t0}"
    fast_sent = sends(env, "FAST")
    assert set(fast_sent) == fast_ids and max(t[0][0] for t in fast_sent.values()) < bound
