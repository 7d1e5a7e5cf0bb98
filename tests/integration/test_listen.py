"""tocsind's HTTP listener against real clients: /healthz follows Redis,
/metrics parses with the Prometheus client library's own parser and
counts what was sent, and hostile requests (oversized, malformed, slow,
idle by the hundred) are refused or timed out while /healthz answers."""

import http.client
import socket
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

from harness import wait_for


def get(env, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode(), dict(r.getheaders())
    finally:
        c.close()


def raw(env, data, timeout=30):
    """Sends data on a fresh connection; returns all it got back (until the
    server closed)."""
    s = socket.create_connection(("127.0.0.1", env.http_port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out.decode("latin-1")
    finally:
        s.close()


def healthy(env):
    status, body, _ = get(env, "/healthz")
    assert (status, body) == (200, "ok\n"), (status, body)


def members(env, names, group):
    return f"  {group}:\n    members:\n" + "".join(
        f"      - {{name: {n}, webhook: \"{env.hook(n)}\"}}\n" for n in names)


def start(env, groups=lambda env: members(env, ["ada"], "oncall")):
    env.start_redis()
    env.start_receiver()
    env.write_config(groups(env))
    env.start_tocsind()
    assert env.http_port, env.log()


def scrape(env):
    status, body, headers = get(env, "/metrics")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    samples = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


# ---- /healthz ---------------------------------------------------------------------

def test_healthz_follows_redis(env):
    start(env)
    healthy(env)
    status, body, headers = get(env, "/healthz", method="HEAD")
    assert status == 200 and body == "" and headers["Content-Length"] == "3", (status, headers)
    env.stop(env.redis_proc)
    wait_for(lambda: get(env, "/healthz")[:2] == (503, "redis unreachable\n"), 30,
             "/healthz to say 503")
    samples = scrape(env)
    assert value(samples, "tocsin_redis_up", connection="command") == 0
    env.start_redis()
    wait_for(lambda: get(env, "/healthz")[:2] == (200, "ok\n"), 30,
             "/healthz to be 200 again")
    samples = scrape(env)
    assert value(samples, "tocsin_redis_up", connection="command") == 1
    assert value(samples, "tocsin_redis_up", connection="intake") == 1


# ---- /metrics ---------------------------------------------------------------------

def test_metrics_count_what_was_sent(env):
    start(env, lambda env: members(env, ["a", "b", "c"], "three") +
          members(env, ["d"], "one"))
    before = scrape(env)
    assert value(before, "tocsin_jobs_total", outcome="done") == 0
    env.xadd_job({"id": "M1", "template": "outage", "groups": ["three"]})
    env.wait_done("M1")
    env.set_status(500)  # transient: retried, then failed after 3 attempts
    env.xadd_job({"id": "M2", "template": "outage", "groups": ["one"]})
    env.xadd_job("{not json")
    wait_for(lambda: env.job("M2").get("state") == "done" and env.pending() == 0, 30,
             "M2 to finish and the invalid job to be dead-lettered")
    s = scrape(env)
    web = {"channel": "webhook"}
    assert value(s, "tocsin_deliveries_total", state="queued", **web) == 4
    assert value(s, "tocsin_deliveries_total", state="delivered", **web) == 3
    assert value(s, "tocsin_deliveries_total", state="failed", **web) == 1
    assert value(s, "tocsin_deliveries_total", state="retrying", **web) == 2
    assert value(s, "tocsin_deliveries_total", state="sending", **web) == 6
    assert value(s, "tocsin_deliveries_total", state="delivered", channel="email") == 0
    assert value(s, "tocsin_attempts_total", **web) == 6
    assert value(s, "tocsin_jobs_total", outcome="done") == 2
    assert value(s, "tocsin_jobs_total", outcome="invalid") == 1
    assert value(s, "tocsin_jobs_total", outcome="cancelled") == 0
    # Every attempt was timed, and none took longer than the webhook
    # timeout (5 s): all are in the 10 s bucket and below +Inf.
    assert value(s, "tocsin_send_seconds_count", **web) == 6
    assert value(s, "tocsin_send_seconds_bucket", le="10", **web) == 6
    assert value(s, "tocsin_send_seconds_bucket", le="+Inf", **web) == 6
    assert s[("tocsin_send_seconds_sum", (("channel", "webhook"),))] > 0
    assert value(s, "tocsin_in_flight", **web) == 0
    assert value(s, "tocsin_retries_waiting", **web) == 0
    assert value(s, "tocsin_deliveries_in_memory") == 0
    assert value(s, "tocsin_in_flight_limit") == 1000
    for phase in ("accepting", "expanding", "draining", "finishing", "broken"):
        assert value(s, "tocsin_jobs_running", phase=phase) == 0
    assert value(s, "tocsin_redis_up", connection="command") == 1
    # Two scrapes and this one were handed to the /metrics route.
    assert value(s, "tocsin_http_requests_total") == 2
    assert len(env.received()) == 3 + 3
    # Read from Redis at the heartbeat: the invalid job and the failed
    # delivery are dead letters.
    wait_for(lambda: scrape(env).get(("tocsin_redis_dead_letters", ())) == 2, 30,
             "the dead-letter count")


def test_metrics_while_retrying(env):
    """A delivery waiting for its retry shows in the gauges."""
    env.start_redis()
    env.start_receiver(status=500)
    env.write_config(members(env, ["ada"], "oncall"),
                     retry="{attempts: 2, base: 1h, max: 1h}")
    env.start_tocsind()
    env.xadd_job({"id": "W1", "template": "outage", "groups": ["oncall"]})
    wait_for(lambda: env.job("W1").get("retrying") == "1", 30, "the delivery to wait")
    s = scrape(env)
    assert value(s, "tocsin_retries_waiting", channel="webhook") == 1
    assert value(s, "tocsin_retries_due", channel="webhook") == 0
    assert value(s, "tocsin_jobs_running", phase="draining") == 1
    wait_for(lambda: scrape(env).get(("tocsin_redis_retries", ())) == 1, 30,
             "the retry set's count")
    assert value(scrape(env), "tocsin_redis_jobs_asleep") == 0


# ---- hostile clients ----------------------------------------------------------------

def test_hostile_requests_refused(env):
    start(env)
    cases = [
        # (request bytes, status line, text in the answer)
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
         "HTTP/1.1 431 ", "TC_LIMIT_HTTP_HEADER_BYTES"),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(65)) +
         b"\r\n", "HTTP/1.1 431 ", "TC_LIMIT_HTTP_HEADERS"),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n", "HTTP/1.1 414 ",
         "TC_LIMIT_HTTP_TARGET"),
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", "HTTP/1.1 413 ",
         "TC_LIMIT_HTTP_BODY"),
        (b"POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
         b"".join(b"1000\r\n" + b"x" * 4096 + b"\r\n" for _ in range(17)) + b"0\r\n\r\n",
         "HTTP/1.1 413 ", "TC_LIMIT_HTTP_BODY"),
        (b"GARBAGE\r\n\r\n", "HTTP/1.1 400 ", ""),
        (b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 ", ""),
        (b"GET /healthz HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ", ""),
        (b"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 ", "no such path"),
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.1 405 ", ""),
        (b"\x00\xff\r\n\r\n", "HTTP/1.1 400 ", ""),
    ]
    for data, status, text in cases:
        out = raw(env, data)
        assert out.startswith(status), (data[:60], out[:200])
        assert text in out, (data[:60], out)
        assert "Connection: close" in out
        healthy(env)
    s = scrape(env)
    refused = {r: value(s, "tocsin_http_refused_total", reason=r)
               for r in ("header_bytes", "headers", "target", "body", "bad_request",
                         "version", "not_found")}
    assert refused == {"header_bytes": 1, "headers": 1, "target": 1, "body": 2,
                       "bad_request": 3, "version": 1, "not_found": 2}, refused
    # Nothing was echoed into the log either.
    assert "X-Big" not in env.log() and "aaaa" not in env.log()


def test_slow_loris_is_timed_out(env):
    start(env)
    s = socket.create_connection(("127.0.0.1", env.http_port), timeout=60)
    got = []

    def drip():
        """A header byte a second, never ending the request."""
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            while True:
                time.sleep(1)
                s.sendall(b"a")
        except OSError:
            pass

    def read():
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got.append(chunk)
        except OSError:
            pass

    t0 = time.monotonic()
    threads = [threading.Thread(target=drip, daemon=True),
               threading.Thread(target=read, daemon=True)]
    for t in threads:
        t.start()
    # Meanwhile the health check answers at once.
    healthy(env)
    threads[1].join(60)
    elapsed = time.monotonic() - t0
    s.close()
    out = b"".join(got).decode("latin-1")
    assert out.startswith("HTTP/1.1 408 "), out
    assert "TC_LIMIT_HTTP_REQUEST_MS" in out, out
    # TC_LIMIT_HTTP_REQUEST_MS is 10 s; the bound here allows a loaded machine.
    assert 9 < elapsed < 50, elapsed
    healthy(env)
    assert value(scrape(env), "tocsin_http_refused_total", reason="timeout") == 1


def test_idle_connections_cannot_lock_out_healthz(env):
    """300 connections held open, past TC_LIMIT_HTTP_CONNECTIONS (256):
    150 that send nothing, then 150 that sent a request and neither read
    the answer nor close. Older ones are closed for newer ones, and
    /healthz still answers."""
    start(env)
    idle = []
    try:
        for i in range(300):
            c = socket.create_connection(("127.0.0.1", env.http_port), timeout=30)
            if i >= 150:
                c.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            idle.append(c)
        for _ in range(5):
            healthy(env)
        s = scrape(env)
        assert value(s, "tocsin_http_connections") <= 256, s
        # Each idle one past the cap closed an older one.
        assert value(s, "tocsin_http_evicted_total") >= 300 - 256, \
            {k: v for k, v in s.items() if "http" in k[0]}
        # The first idle connection was closed by the server.
        idle[0].settimeout(30)
        try:
            assert idle[0].recv(100) == b""
        except ConnectionResetError:
            pass
    finally:
        for c in idle:
            c.close()
    healthy(env)


def test_listen_address_in_use_stops_start(env):
    """A second tocsind on the same listen address says why and exits 1."""
    start(env)
    first = env.http_port
    env.write_config(members(env, ["ada"], "oncall"), listen=f"127.0.0.1:{first}")
    p = env.spawn([f"{env.build}/dispatcher/tocsind", "-c", env.config], "second.log",
                  env=env.env())
    assert p.wait(30) == 1
    with open(f"{env.dir}/second.log") as f:
        log = f.read()
    assert f"event=listen-failed listen=127.0.0.1:{first} err=\"address already in use\"" \
        in log, log
    # The same with email configured: its worker pool, open by then, is
    # closed on the way out without anything touching Redis connections
    # that do not exist yet (the sanitized build stops on that).
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace("channels:\n", "channels:\n  email:\n    server: 127.0.0.1:1\n"
                             "    starttls: off\n    from: noc@example.org\n", 1))
    p = env.spawn([f"{env.build}/dispatcher/tocsind", "-c", env.config], "third.log",
                  env=env.env())
    assert p.wait(30) == 1, open(f"{env.dir}/third.log").read()
    healthy(env)
