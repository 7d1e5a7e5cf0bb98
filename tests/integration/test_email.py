"""The email channel end to end: tocsind against real SMTP servers on
loopback (postfix's smtp-sink, Debian's aiosmtpd), every captured message
parsed with Python's email package."""

import os
import signal

from email_peers import (HostileSmtp, make_cert, sink_messages, smtpd_messages, start_sink,
                         start_smtpd)
from harness import check_counts, delivery_id, now_ms, wait_for
from test_listen import scrape

SUBJECT = "{{service}} ist gestört — Störung {{incident}}\n"
TEXT = """Hallo {{member.name}},

{{service}} ist gestört.
.this line starts with a dot
..and this one with two
Ünïcödé body line
"""
HTML = "<p>Hallo {{member.name}}, <b>{{service}}</b> ist gestört.</p>\n"
BOB = """  staff:
    members:
      - {name: "Bob Smith", email: bob@example.org, channels: [email]}
"""
MEMBERS = """  staff:
    members:
      - {name: "Zoë Ångström", email: zoe@example.org, channels: [email]}
      - {name: "Bob Smith", email: bob@example.org, channels: [email]}
"""


def templates(env, html=True):
    d = os.path.join(env.dir, "templates", "outage")
    for name, text in (("email.subject", SUBJECT), ("email.txt", TEXT),
                       ("email.html", HTML if html else None)):
        if text:
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(text)


def config(env, port, extra="starttls: off", members=MEMBERS,
           retry="{attempts: 2, base: 50ms, max: 100ms}", timeout="20s", grace="5s"):
    with open(env.config, "w", encoding="utf-8") as f:
        f.write(f"""redis:
  url: unix://{env.redis_sock}
dispatcher:
  consumer: it-1
  shutdown_grace: {grace}
listen: 127.0.0.1:0
templates: templates/
channels:
  email:
    server: localhost:{port}
    {extra}
    from: "Incident désk <incidents@example.org>"
    reply_to: noc@example.org
    bounce_address: "bounces+{{delivery}}@example.org"
    sessions: 2
    timeout: {timeout}
    retry: {retry}
groups:
{members}""")


def setup(env, port, **kw):
    env.start_redis()
    templates(env, html=kw.pop("html", True))
    config(env, port, **kw)
    env.start_tocsind()


def send(env, job_id, incident="INC-7", group="staff"):
    env.xadd_job({"id": job_id, "template": "outage", "groups": [group],
                  "incident": incident, "vars": {"service": "Zahlungen"}})
    rec = env.wait_done(job_id, timeout=60)
    check_counts(rec)
    return rec


def test_message_is_correct_mime_and_threads_per_incident(env):
    port, dump = start_sink(env)
    setup(env, port)
    rec = send(env, "J1")
    assert rec["email.sent"] == "2", rec
    msgs = wait_for(lambda: len(sink_messages(dump)) == 2 and sink_messages(dump), 20,
                    "two messages at smtp-sink")
    by_to = {m["To"].addresses[0].addr_spec: m for m in msgs}
    assert sorted(by_to) == ["bob@example.org", "zoe@example.org"]
    z = by_to["zoe@example.org"]
    assert z["To"].addresses[0].display_name == "Zoë Ångström"
    assert z["From"].addresses[0].display_name == "Incident désk"
    assert z["From"].addresses[0].addr_spec == "incidents@example.org"
    assert str(z["Reply-To"]) == "noc@example.org"
    assert str(z["Subject"]) == "Zahlungen ist gestört — Störung INC-7"
    did = delivery_id("J1", "email", "zoe@example.org")
    assert z["Message-ID"] == f"<{did}@example.org>"
    assert len(z.get_all("Message-ID")) == 1 and len(z.get_all("Date")) == 1
    assert z["Auto-Submitted"] == "auto-generated"
    assert z["X-Tocsin-Job"] == "J1" and z["X-Tocsin-Incident"] == "INC-7"
    assert z["X-Tocsin-Delivery"] == did
    assert z["MIME-Version"] == "1.0"
    assert z.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in z.iter_parts()]
    assert parts == ["text/plain", "text/html"], parts
    text = z.get_body(("plain",))
    assert text.get_content_charset() == "utf-8"
    body = text.get_content()
    assert "Hallo Zoë Ångström," in body
    # Dots at the start of a line survive libesmtp's dot-stuffing and the
    # server's unstuffing.
    assert "\n.this line starts with a dot\n..and this one with two\n" in body, body
    assert "Ünïcödé body line" in body
    assert "<b>Zahlungen</b> ist gestört" in z.get_body(("html",)).get_content()
    for m in msgs:
        for line in m.as_bytes().split(b"\n"):
            assert len(line) <= 998
    # The envelope: VERP sender with the delivery id, one recipient.
    assert z["X-Mail-Args"] == f"<bounces+{did}@example.org>", z["X-Mail-Args"]
    assert z.get_all("X-Rcpt-Args") == ["<zoe@example.org>"]

    # A second job about the same incident threads under the same root for
    # each recipient; another recipient's root differs.
    send(env, "J2")
    msgs = wait_for(lambda: len(sink_messages(dump)) == 4 and sink_messages(dump), 20,
                    "four messages")
    roots = {}
    for m in msgs:
        to = m["To"].addresses[0].addr_spec
        assert m["In-Reply-To"] == m["References"]
        roots.setdefault(to, set()).add(m["In-Reply-To"])
    assert len(roots["zoe@example.org"]) == 1 and len(roots["bob@example.org"]) == 1, roots
    assert roots["zoe@example.org"] != roots["bob@example.org"]
    ids = {m["Message-ID"] for m in msgs}
    assert len(ids) == 4

    dl = env.deliveries("J1")
    for d in dl.values():
        assert d["state"] == "sent" and d["attempts"] == 1, d
        assert d["last_outcome"].startswith("smtp 250"), d
        assert d["provider"] == f"localhost:{port}", d


def test_plain_text_only_template(env):
    port, dump = start_sink(env)
    setup(env, port, html=False)
    send(env, "T1")
    m = wait_for(lambda: len(sink_messages(dump)) == 2 and sink_messages(dump), 20,
                 "two messages")[0]
    assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8"
    assert ".this line starts with a dot" in m.get_content()


def test_hard_refusal_is_permanent_with_the_servers_reason(env):
    port, dump = start_sink(env, "-f", "RCPT")
    setup(env, port)
    rec = send(env, "P1")
    assert rec["email.failed"] == "2", rec
    for d in env.deliveries("P1").values():
        assert d["state"] == "failed" and d["attempts"] == 1, d
        assert d["last_outcome"].startswith("smtp 500 5.3.0 (envelope): "), d
        assert "command failed" in d["last_outcome"], d


def test_soft_refusal_is_retried_then_fails(env):
    port, dump = start_sink(env, "-r", "RCPT")
    setup(env, port)
    rec = send(env, "S1")
    assert rec["email.failed"] == "2", rec
    for d in env.deliveries("S1").values():
        assert d["state"] == "failed" and d["attempts"] == 2, d
        assert "450 4.3.0" in d["last_outcome"], d


def test_no_answer_after_the_final_dot_is_ambiguous(env):
    port, dump = start_sink(env, "-q", ".")
    setup(env, port, members=BOB)
    rec = send(env, "A1")
    assert rec["email.failed"] == "1", rec
    (d,) = env.deliveries("A1").values()
    assert d["attempts"] == 2, d
    assert d["last_outcome"].startswith("ambiguous: no answer after the final dot"), d


def test_one_refused_recipient_fails_alone(env):
    port, dump = start_smtpd(env, "--reject", "bob@example.org")
    setup(env, port, members="""  staff:
    members:
      - {name: "Zoë Ångström", email: zoe@example.org, channels: [email]}
      - {name: "Bob Smith", email: bob@example.org, channels: [email]}
      - {name: "Carol", email: carol@example.org, channels: [email]}
""")
    rec = send(env, "R1")
    assert rec["email.sent"] == "2" and rec["email.failed"] == "1", rec
    for d in env.deliveries("R1").values():
        if d["address"] == "bob@example.org":
            assert d["state"] == "failed" and d["attempts"] == 1, d
            assert d["last_outcome"].startswith("smtp 550 5.1.1 (envelope)"), d
            assert "User unknown" in d["last_outcome"], d
        else:
            assert d["state"] == "sent", d
            assert d["provider_message_id"].startswith("Q"), d
    got = smtpd_messages(dump)
    assert sorted(e["rcpt_tos"][0] for e, _ in got) == ["carol@example.org",
                                                       "zoe@example.org"]


def test_starttls_required_refuses_a_server_without_it(env):
    port, dump = start_smtpd(env)
    setup(env, port, extra="starttls: required")
    rec = send(env, "N1")
    assert rec["email.failed"] == "2", rec
    for d in env.deliveries("N1").values():
        assert "offers no STARTTLS" in d["last_outcome"], d
    assert smtpd_messages(dump) == []


def test_untrusted_certificate_is_refused_unless_ca_file_trusts_it(env):
    cert, key = make_cert(env)
    port, dump = start_smtpd(env, "--tls", cert, key, "--require-tls")
    setup(env, port, extra="starttls: required")
    send(env, "C1")
    for d in env.deliveries("C1").values():
        assert d["state"] == "failed", d
        assert "certificate not trusted" in d["last_outcome"], d
    assert smtpd_messages(dump) == []
    # The same server, trusted through ca_file.
    env.stop(env.tocsind_proc)
    config(env, port, extra=f"starttls: required\n    ca_file: {cert}")
    env.start_tocsind()
    rec = send(env, "C2")
    assert rec["email.sent"] == "2", rec
    got = smtpd_messages(dump)
    assert len(got) == 2 and all(e["tls"] for e, _ in got), got


def test_auth_over_starttls_and_the_password_stays_secret(env):
    cert, key = make_cert(env)
    password = "s3cret-Pa55-" + os.urandom(6).hex()
    port, dump = start_smtpd(env, "--tls", cert, key, "--require-tls", "--auth", "tocsin",
                             password=password)
    base = env.env
    env.env = lambda: {**base(), "TOCSIN_SMTP_PASSWORD": password}
    setup(env, port, extra=f"starttls: required\n    ca_file: {cert}\n"
          "    username: tocsin\n    password: ${TOCSIN_SMTP_PASSWORD}")
    rec = send(env, "U1")
    assert rec["email.sent"] == "2", rec
    got = smtpd_messages(dump)
    assert len(got) == 2 and all(e["tls"] and e["auth"] for e, _ in got), got
    # A wrong password: refused, and never written anywhere.
    env.stop(env.tocsind_proc)
    env.env = lambda: {**base(), "TOCSIN_SMTP_PASSWORD": "wrong-" + password}
    env.start_tocsind()
    send(env, "U2")
    for d in env.deliveries("U2").values():
        assert d["state"] == "failed", d
    r = env.cli("report", "U2", "--json")
    dumped = "".join(f"{k}={v}" for k in env.r.keys("*")
                     for v in ([env.r.type(k)] + [str(x) for x in (
                         env.r.hgetall(k) if env.r.type(k) == "hash" else
                         env.r.xrange(k) if env.r.type(k) == "stream" else [])]))
    for text in (env.log(), r.stdout, r.stderr, dumped):
        assert password not in text


def test_endless_reply_is_bounded_and_recorded(env):
    bad = HostileSmtp("endless")
    try:
        setup(env, bad.port, members=BOB)
        rec = send(env, "E1")
        assert rec["email.failed"] == "1", rec
        (d,) = env.deliveries("E1").values()
        assert "the server sent more than" in d["last_outcome"], d
        assert "TC_LIMIT_SMTP_READ" in d["last_outcome"], d
        assert env.tocsind_proc.poll() is None
        # Each of the 2 attempts read at most the bound (64 KiB + 1 KiB
        # for its one message); the socket buffers hold a little more.
        assert bad.counts["conns"] == 2, bad.counts
    finally:
        bad.close()


def test_silent_server_times_out(env):
    bad = HostileSmtp("silent")
    try:
        setup(env, bad.port, timeout="1s", members=BOB)
        rec = send(env, "Q1")
        assert rec["email.failed"] == "1", rec
        (d,) = env.deliveries("Q1").values()
        assert d["last_outcome"] == "no answer from the server (session)", d
        assert env.tocsind_proc.poll() is None
    finally:
        bad.close()


def test_reload_moves_to_a_new_server_and_session_count(env):
    port1, dump1 = start_sink(env)
    setup(env, port1)
    assert send(env, "L1")["email.sent"] == "2"
    # Another server and one session: a reload, no restart. Workers past the
    # new count leave; messages go to the new server only.
    port2, dump2 = start_smtpd(env)
    reloads = env.log().count("event=reloaded")
    config(env, port2)
    with open(env.config) as f:
        text = f.read().replace("sessions: 2", "sessions: 1")
    with open(env.config, "w") as f:
        f.write(text)
    env.tocsind_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: env.log().count("event=reloaded") > reloads, 20, "the reload")
    assert send(env, "L2")["email.sent"] == "2"
    got = smtpd_messages(dump2)
    assert sorted(e["rcpt_tos"][0] for e, _ in got) == ["bob@example.org", "zoe@example.org"]
    assert len(sink_messages(dump1)) == 2
    # Stopping joins every worker; LeakSanitizer (on in the tests' ASan
    # build) would fail tocsind's exit on a leak.
    assert env.stop(env.tocsind_proc) == 0
    assert "ERROR: LeakSanitizer" not in env.log() and "AddressSanitizer" not in env.log()


def test_throttling_answer_holds_the_channel_back(env):
    port, dump = start_smtpd(env, "--throttle")
    setup(env, port, members=BOB, retry="{attempts: 3, base: 10ms, max: 20ms}")
    rec = send(env, "TH1")
    assert rec["email.failed"] == "1", rec
    (d,) = env.deliveries("TH1").values()
    assert d["attempts"] == 3, d
    assert d["last_outcome"].startswith("smtp 454 4.7.0 (envelope)"), d
    # The retry policy alone would resend after 10-20 ms; the throttling
    # answer holds the channel 1 s, then 2 s: measured where the server saw
    # each RCPT (the reply to one goes out after it arrived).
    with open(os.path.join(dump, "throttled.txt")) as f:
        t = [int(x) for x in f.read().split()]
    assert len(t) == 3, t
    assert t[1] - t[0] >= 1000 and t[2] - t[1] >= 2000, t
    # The third answer held the channel 4 s from when tocsind read it (after
    # the server wrote it): /metrics says so until then.
    held = scrape(env)[("tocsin_email_held_seconds", ())]
    if now_ms() < t[2] + 4000:
        assert 0 < held <= 4, held
    wait_for(lambda: scrape(env)[("tocsin_email_held_seconds", ())] == 0, 30,
             "the hold to end")
    assert scrape(env)[("tocsin_email_tokens_waiting", ())] == 0


def test_worker_sockets_get_tcp_nodelay(env):
    """tocsind's own connect(2) sets TCP_NODELAY on the email workers' SMTP
    sockets, before connecting: seen from outside with strace."""
    port, dump = start_sink(env)
    env.start_redis()
    templates(env)
    config(env, port)
    trace = os.path.join(env.dir, "strace.out")
    p = env.spawn(["strace", "-f", "-o", trace, "-e", "trace=setsockopt,connect",
                   os.path.join(env.build, "dispatcher", "tocsind"), "-c", env.config],
                  "tocsind.log", env=env.env())
    wait_for(lambda: "event=resumed-pending" in env.log() or p.poll() is not None, 30,
             "tocsind under strace")
    assert p.poll() is None, env.log()
    send(env, "ND1")
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        child = int(f.read().split()[0])
    os.kill(child, signal.SIGTERM)
    p.wait(30)
    lines = open(trace).read().splitlines()
    smtp = [i for i, line in enumerate(lines)
            if " connect(" in line and f"htons({port})" in line]
    assert len(smtp) >= 1, lines[-20:]
    for i in smtp:
        pid, rest = lines[i].split(None, 1)
        fd = rest[len("connect("):].split(",")[0]
        before = [line for line in lines[:i] if line.startswith(pid + " ") and
                  f"setsockopt({fd}, SOL_TCP, TCP_NODELAY, [1]" in line]
        assert before, (lines[i], [line for line in lines[:i] if line.startswith(pid)][-5:])
    # No other socket of tocsind gets it (Redis is a unix socket here; no
    # TCP_NODELAY but on the email workers' connects).
    nodelay = [line for line in lines if "TCP_NODELAY" in line]
    assert len(nodelay) == len(smtp), nodelay


def test_messages_a_broken_session_never_reached_cost_no_attempt(env):
    """A server that takes two messages per connection, then answers 421
    and closes: the message refused is retried (an attempt), those the
    session never reached go to the next session with no attempt counted.
    So each delivery's attempts are 1 + the 421s its own MAIL got (read
    from the VERP sender, which carries the delivery id)."""
    port, dump = start_smtpd(env, "--max-per-conn", "2")
    members = "".join(f'      - {{name: "U{i}", email: u{i}@example.org, channels: [email]}}\n'
                      for i in range(20))
    setup(env, port, members="  staff:\n    members:\n" + members,
          retry="{attempts: 8, base: 10ms, max: 20ms}")
    with open(env.config) as f:
        text = f.read().replace("sessions: 2", "sessions: 1")
    with open(env.config, "w") as f:
        f.write(text)
    env.stop(env.tocsind_proc)
    env.start_tocsind()
    # Each 421 holds the channel back (1 s, doubling): allow for it.
    env.xadd_job({"id": "MC1", "template": "outage", "groups": ["staff"],
                  "incident": "INC-7", "vars": {"service": "Zahlungen"}})
    rec = env.wait_done("MC1", timeout=150)
    check_counts(rec)
    assert rec["email.sent"] == "20", rec
    refused = {}
    path = os.path.join(dump, "refused.txt")
    if os.path.exists(path):
        for line in open(path).read().split():
            did = line.split("+", 1)[1].split("@")[0]
            refused[did] = refused.get(did, 0) + 1
    for did, d in env.deliveries("MC1").items():
        assert d["state"] == "sent", d
        assert d["attempts"] == 1 + refused.get(did, 0), (d, refused)
    got = smtpd_messages(dump)
    assert len(got) == 20


def test_shutdown_grace_cuts_sessions_that_hang_and_loses_nothing(env):
    """A server that never answers would hold a session for its whole
    timeout (here 10 minutes), and messages queued behind it longer
    still: SIGTERM ends tocsind once shutdown_grace (1 s) is over, not
    then. What was not sent stays pending and is sent after a restart."""
    bad = HostileSmtp("silent")
    members = "  staff:\n    members:\n" + "".join(
        f"      - {{name: M{i}, email: m{i}@example.org, channels: [email]}}\n"
        for i in range(450))  # more than the two sessions' batches of 200
    try:
        setup(env, bad.port, timeout="10m", members=members, grace="1s")
        env.xadd_job({"id": "G1", "template": "outage", "groups": ["staff"],
                      "incident": "INC-7", "vars": {"service": "Zahlungen"}})
        # Both sessions are connected to the server that says nothing.
        wait_for(lambda: bad.counts["conns"] >= 2, 60, "two sessions at the silent server")
        env.tocsind_proc.send_signal(signal.SIGTERM)
        # The guarantee is the grace, not the 10 minutes of timeout: 120 s
        # only keeps a slow machine from failing this.
        env.tocsind_proc.wait(timeout=120)
        assert env.tocsind_proc.returncode == 0, env.log()
        assert "event=grace-over" in env.log(), env.log()
        assert env.job("G1").get("state") != "done"
    finally:
        bad.close()
    # Nothing accepted is lost: a restart against a real server sends all.
    port, dump = start_sink(env)
    config(env, port, members=members)
    env.start_tocsind()
    rec = env.wait_done("G1", timeout=120)
    check_counts(rec)
    assert rec["email.sent"] == "450", rec
    wait_for(lambda: len(sink_messages(dump)) >= 450, 60, "450 messages at the sink")
