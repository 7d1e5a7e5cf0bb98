"""Work that only waits costs no place that new work needs: retries and
holds far away (a destination's Retry-After of an hour) leave memory and
give their in_flight slots back, while Redis keeps them; they come back
from their records when due."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import check_counts, delivery_id, now_ms, wait_for


class SlowHost:
    """A destination on loopback that answers 429 with Retry-After while
    `wait` is set, else 204, and counts the requests it answered."""

    def __init__(self, retry_after):
        host = self
        self.wait = retry_after
        self.requests = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with host.lock:
                    host.requests += 1
                    wait = host.wait
                if wait:
                    self.send_response(429)
                    self.send_header("retry-after", str(wait))
                else:
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, i):
        return f"http://127.0.0.1:{self.port}/hooks/u{i}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def broadcast_to(env, host, n, in_flight):
    env.start_redis()
    env.start_receiver()
    roster = env.write_roster(n, host.url)
    env.write_config(f"""  many:
    roster: {roster}
  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", in_flight=in_flight, retry="{attempts: 3, base: 10ms, max: 20ms}")
    env.start_tocsind()
    env.xadd_job({"id": "SLOW", "template": "outage", "groups": ["many"]})


def test_an_hour_of_retry_after_frees_in_flight_for_new_work(env):
    host = SlowHost(3600)
    n, in_flight = 200, 40
    try:
        broadcast_to(env, host, n, in_flight)
        # Every delivery waits an hour, in Redis: all of them were planned
        # although in_flight is 40, because waiting gave the slots back.
        wait_for(lambda: int(env.job("SLOW").get("retrying", 0)) == n, 60,
                 "every delivery retrying")
        env.xadd_job({"id": "CRIT", "template": "outage", "groups": ["oncall"],
                      "severity": "critical"}, severity="critical")
        rec = env.wait_done("CRIT", timeout=30)
        assert rec["delivered"] == "1", rec
        slow = env.job("SLOW")
        check_counts(slow)
        assert slow["planned"] == str(n) and slow["state"] == "sending", slow
        soon = now_ms() + 3000 * 1000
        for d in env.deliveries("SLOW").values():
            assert d["state"] == "retrying" and d["next_attempt_ms"] > soon, d
        assert env.r.zcard("tocsin:retry") == n
        # Only the first requests reached the host: then it was held back.
        assert 1 <= host.requests < n, host.requests
        # Cancelled, the parked deliveries come back at once and end.
        r = env.cli("cancel", "SLOW")
        assert r.returncode == 0, r.stderr
        rec = env.job("SLOW")
        wait_for(lambda: int(env.job("SLOW").get("cancelled", 0)) == n, 60, "all cancelled")
        assert host.requests < n
    finally:
        host.stop()


def test_parked_deliveries_come_back_from_their_records(env):
    host = SlowHost(6)  # further than a retry waits in memory (5 s)
    n = 60
    try:
        broadcast_to(env, host, n, in_flight=20)
        wait_for(lambda: int(env.job("SLOW").get("retrying", 0)) == n, 60,
                 "every delivery retrying")
        with host.lock:
            host.wait = 0
        rec = env.wait_done("SLOW", timeout=90)
        check_counts(rec)
        assert rec["delivered"] == str(n), rec
        for addr, d in ((d["address"], d) for d in env.deliveries("SLOW").values()):
            assert d["state"] == "delivered" and d["member"].startswith("U"), d
            did = delivery_id("SLOW", "webhook", addr)
            assert any(e.get("delivery") == did and e.get("state") == "delivered"
                       for _, e in env.r.xrange("tocsin:job:{SLOW}:events")), did
        assert env.r.zcard("tocsin:retry") == 0
    finally:
        host.stop()
