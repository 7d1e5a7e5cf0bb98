"""What hostile peers and producers send, against a real Redis, tocsind and
receiver: numbers that overflow (a receiver's Retry-After), bytes meant
for the commander's terminal (a job's incident, names, addresses and
reasons), and stream entries meant to exhaust tocsind's memory."""

import os
import subprocess

from harness import delivery_id, job_key, now_ms, wait_for

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
        assert env.r.zscore("tocsin:retry", did) == due, value
        sanitizer_clean(env)
        r = tocsin(env, "cancel", job)
        assert r.returncode == 0, (value, r.stdout, r.stderr)
        wait_for(lambda: env.job(job).get("done_at"), 20, f"{job} finished")
        rec = env.job(job)
        assert rec["state"] == "cancelled" and rec["cancelled"] == "1", rec
        assert env.r.zscore("tocsin:retry", did) is None
    assert env.pending() == 0
    sanitizer_clean(env)


# ---- what reaches the commander's terminal ------------------------------------------

# OSC 0 (set the window title) ended by BEL, CSI 2 J (clear the screen), C1
# controls as UTF-8 (CSI U+009B, NEL U+0085), bidi overrides and isolates,
# DEL, a tab: each would act on a terminal if printed raw.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u0085 \u202eevil\u202c \u2066x\u2069\x7f\t!"
BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def terminal_safe(out, what, tab=False):
    """Nothing in out (bytes) can drive a terminal: no C0 control but the
    newline (and the tab when the format has one), no DEL, only UTF-8, no
    C1 control and no bidi control."""
    for i, b in enumerate(out):
        assert b >= 0x20 or b == 0x0A or (tab and b == 0x09), \
            f"{what}: control byte {b:#04x} at {i}: {out[max(0, i - 40):i + 40]!r}"
        assert b != 0x7F, f"{what}: DEL at {i}: {out[max(0, i - 40):i + 40]!r}"
    text = out.decode("utf-8")  # raises on a byte that is not UTF-8
    for i, ch in enumerate(text):
        cp = ord(ch)
        assert not 0x80 <= cp <= 0x9F, f"{what}: C1 U+{cp:04X} at {i}: {text[i - 40:i + 40]!r}"
        assert cp not in BIDI, f"{what}: bidi U+{cp:04X} at {i}: {text[i - 40:i + 40]!r}"
    return text


def cli_safe(env, *args, rc=0):
    """Runs the CLI; both streams must be terminal-safe. Returns stdout."""
    r = tocsin(env, *args)
    assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    terminal_safe(r.stderr, f"{args} stderr")
    return terminal_safe(r.stdout, f"{args} stdout")


def test_cli_shows_producer_values_escaped(env):
    """A job whose incident and member name, and a delivery record whose
    group, member, address and outcome hold terminal controls, C1 bytes and
    bidi overrides: status, report, send --wait, cancel and dead print them
    escaped, and --json keeps them exact."""
    import json
    env.start_redis()
    env.start_receiver(status=500)
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", retry="{attempts: 2, base: 10ms, max: 20ms}")
    env.start_tocsind()
    env.xadd_job({"id": "EVIL", "template": "outage", "incident": HOSTILE,
                  "recipients": [{"name": HOSTILE, "webhook": env.hook("evil")}],
                  "vars": {"message": HOSTILE}})
    wait_for(lambda: env.job("EVIL").get("state") == "done", 30, "EVIL done")
    # A record as a peer or another writer may have left it: every field.
    rec = {"channel": "webhook", "address": "https://x.example/" + HOSTILE,
           "group": HOSTILE, "member": HOSTILE, "state": "failed", "attempts": 3,
           "last_outcome": "http 500: " + HOSTILE, "provider": HOSTILE}
    env.r.hset(job_key("EVIL", "deliveries"), "f" * 32, json.dumps(rec))

    out = cli_safe(env, "status", "EVIL", rc=1)
    assert "incident   \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\u0085 \\u202eevil\\u202c " \
           "\\u2066x\\u2069\\x7f\\x09!\n" in out, out
    out = cli_safe(env, "report", "EVIL")
    assert out.count("\\x1b]0;pwned\\x07") >= 5, out  # incident, names, group, address, outcome
    got = json.loads(cli_safe(env, "status", "EVIL", "--json", rc=1))
    assert got["incident"] == HOSTILE, got
    rows = json.loads(cli_safe(env, "report", "EVIL", "--json"))
    mine = [d for d in rows if d["delivery"] == "f" * 32][0]
    for k in ("address", "group", "member", "last_outcome", "provider"):
        assert mine[k] == rec[k], (k, mine)
    theirs = [d for d in rows if d["delivery"] != "f" * 32][0]
    assert theirs["member"] == HOSTILE and theirs["state"] == "failed", theirs

    # A record written with bytes that are not UTF-8: raw C1 bytes among them.
    raw = __import__("redis").Redis(unix_socket_path=env.redis_sock)
    raw.hset(job_key("RAW"), mapping={
        "state": b"sending\x9b2J", "template": b"outage\xff", "severity": "normal",
        "incident": b"\x9b\x1b]0;t\x07\x85\xc2", "created_at": b"\xe2\x80\xae2026",
        "planned": b"1\x1b", "webhook.queued": b"99999999999999999999999"})
    raw.hset(job_key("RAW", "deliveries"), b"d\x9b", b'{"member": "\\u009b\xff", "state": 7}')
    out = cli_safe(env, "status", "RAW")
    assert "incident   \\x9b\\x1b]0;t\\x07\\x85\\xc2\n" in out, out
    assert "created    \\u202e2026\n" in out, out
    cli_safe(env, "report", "RAW")
    got = json.loads(cli_safe(env, "status", "RAW", "--json"))
    assert got["incident"] == "\\x9b\x1b]0;t\x07\\x85\\xc2", got
    assert got["planned"] == "1\x1b" and got["webhook.queued"] == \
        "99999999999999999999999", got
    rows = json.loads(cli_safe(env, "report", "RAW", "--json"))
    assert rows == [{"delivery": "d\\x9b", "error": "unreadable record", "job": "RAW",
                     "round": 0}], rows

    # send --wait follows a job to its end: progress and summary escaped.
    env.set_status(204)
    out = cli_safe(env, "send", "--template", "outage", "--to", env.hook("w"),
                   "--incident", HOSTILE, "--id", "WAITED", "--wait")
    assert "incident   \\x1b]0;pwned" in out and "job WAITED [" in out, out
    # A job refused for a value it holds: the reason quotes it, escaped.
    cli_safe(env, "send", "--template", "outage", "--group", HOSTILE, "--wait", rc=1)
    env.xadd_job({"id": "BADGROUP", "template": "outage", "groups": [HOSTILE]})
    wait_for(lambda: env.r.xlen("tocsin:dead") >= 2, 20, "the dead letters")
    out = cli_safe(env, "dead", "list")
    assert "\\u202eevil" in out, out
    for i, _ in env.r.xrange("tocsin:dead"):
        cli_safe(env, "dead", "show", i)
        got = json.loads(cli_safe(env, "dead", "show", i, "--json"))
        if got["kind"] == "delivery":
            assert json.loads(got["record"])["member"] == HOSTILE, got
        else:
            assert json.loads(got["body"])["groups"] == [HOSTILE], got
            # the reason quotes it as tocsind's diagnostics do: escaped
            assert "\\u202eevil" in got["reason"], got
    got = json.loads(cli_safe(env, "dead", "list", "--json"))
    assert [json.loads(d["body"]) for d in got if d["kind"] == "job"] == [
        {"id": "BADGROUP", "template": "outage", "groups": [HOSTILE]}], got
    # cancel: a record whose times were written by hand.
    raw.hset(job_key("OLD"), mapping={"state": "done", "done_at": b"\x1b[2J\xe2\x80\xae"})
    r = tocsin(env, "cancel", "OLD")
    assert r.returncode == 1 and b"(at \\x1b[2J\\u202e)" in r.stderr, r.stderr
    terminal_safe(r.stderr, "cancel")
    raw.hset(job_key("GONE"), mapping={"state": "cancelled", "cancelled_at": b"\x07\xc2\x85"})
    out = cli_safe(env, "cancel", "GONE")
    assert out == "job GONE was already cancelled at \\x07\\u0085\n", out
    got = json.loads(cli_safe(env, "cancel", "GONE", "--json"))
    assert got["cancelled_at"] == "\x07\u0085", got
    # tocsind's log quoted the refused group name: escaped there too.
    with open(os.path.join(env.dir, "tocsind.log"), "rb") as f:
        terminal_safe(f.read(), "tocsind's log")
    sanitizer_clean(env)


def test_preview_shows_roster_names_and_vars_escaped(env):
    """preview prints a roster member's name and role (a roster refuses C0
    controls, not C1 or bidi ones) and the rendered message (whose vars come
    from the job) escaped, keeping the message's newlines and tabs; --json
    keeps them exact."""
    import json
    env.start_redis()
    name = "\u009b2J\u0085 \u202eevil\u2066x"
    roster = os.path.join(env.dir, "r.csv")
    with open(roster, "w", encoding="utf-8") as f:
        f.write("name,role,phone\n")
        f.write(f"{name},\u009b2J\u202erole,+15550100\n")
    with open(os.path.join(env.dir, "templates", "outage", "sms.txt"), "w") as f:
        f.write("line one\n\t{{message}}\nline three\n")
    with open(env.config, "w") as f:
        f.write(f"""redis:
  url: unix://{env.redis_sock}
templates: templates/
channels:
  sms:
    providers:
      - name: main
        kind: twilio
        account_sid: AC123
        auth_token: ${{TWILIO_AUTH_TOKEN_UNSET}}
        from: "+15550100000"
groups:
  all:
    roster: {roster}
""")
    args = ("preview", "--template", "outage", "--group", "all", "--channel", "sms",
            "--var", f"message={HOSTILE}")
    r = tocsin(env, *args)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = terminal_safe(r.stdout, "preview", tab=True)
    terminal_safe(r.stderr, "preview stderr")
    assert "member \\u009b2J\\u0085 \\u202eevil\\u2066x (\\u009b2J\\u202erole)\n" in out, out
    assert "line one\n\t\\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\u0085 \\u202eevil" in out, out
    assert "\\x7f\t!\nline three\n" in out, out
    got = json.loads(cli_safe(env, *args, "--json"))
    assert got["member"] == name and got["role"] == "\u009b2J\u202erole", got
    assert got["parts"][0]["text"] == f"line one\n\t{HOSTILE}\nline three", got


# ---- entries meant to exhaust tocsind's memory ---------------------------------------

MIB = 1024 * 1024
GROWTH_BOUND = 32 * MIB  # what one poisoned entry may add to tocsind's peak RSS


def peak_rss(pid):
    """VmHWM of process pid, in bytes: the most it ever had resident."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_entry_of_a_million_fields_is_dead_lettered_unread(env):
    """One stream entry of a million one-byte fields, then a good job: hiredis
    would build all two million strings before tocsind saw one (200 MiB).
    The reply bound refuses it at its count, the sweep dead-letters it inside
    Redis, and the good job behind it is delivered; tocsind's peak RSS grows
    by less than GROWTH_BOUND."""
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""")
    env.start_tocsind()
    env.xadd_job({"id": "WARM", "template": "outage", "groups": ["oncall"]})
    env.wait_done("WARM")
    before = peak_rss(env.tocsind_proc.pid)
    args = ["XADD", "tocsin:jobs:normal", "*"] + ["a", "b"] * 1000000
    poison = env.r.execute_command(*args)
    del args
    env.xadd_job({"id": "GOOD", "template": "outage", "groups": ["oncall"]})
    rec = env.wait_done("GOOD", timeout=60)
    assert rec["delivered"] == "1", rec
    grown = peak_rss(env.tocsind_proc.pid) - before
    print(f"# peak RSS grew by {grown / MIB:.1f} MiB (bound {GROWTH_BOUND / MIB:.0f} MiB)")
    assert grown < GROWTH_BOUND, f"peak RSS grew by {grown / MIB:.1f} MiB"
    dead = wait_for(lambda: [f for _, f in env.r.xrange("tocsin:dead") if f.get("entry") == poison],
                    30, "the poisoned entry dead-lettered")
    assert len(dead) == 1, dead
    d = dead[0]
    assert d["kind"] == "job" and d["stream"] == "normal" and d["body"] == "", d
    assert d["reason"].startswith("entry too large to read: 1000000 fields, "), d
    assert env.pending() == 0
    events = [f for _, f in env.r.xrange("tocsin:events") if f.get("entry") == f"normal/{poison}"]
    assert [e["event"] for e in events] == ["invalid"], events
    log = env.log()
    assert f"event=reply-refused why=\"stream entry {poison}: an array of 2000000 " \
           "elements, more than 1024 (TC_LIMIT_REDIS_ARRAY)\"" in log, log[-3000:]
    assert f"stream=normal entry={poison} event=too-large fields=1000000" in log, log[-3000:]
    # It is read no more: a new job goes through at once.
    env.xadd_job({"id": "AFTER", "template": "outage", "groups": ["oncall"]})
    env.wait_done("AFTER")
    assert env.log().count("event=reply-refused") == 1
    sanitizer_clean(env)


def test_oversized_entries_are_dead_lettered_on_either_connection(env):
    """An entry past TC_LIMIT_REDIS_ENTRY read by intake (500 fields of 300
    bytes), and one left pending by an instance that died (a 200 KB job
    field), claimed by tocsind's command connection: each reply is refused,
    the entry dead-lettered with the start of its `job` field, and the jobs
    around them go through."""
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""")
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace("  shutdown_grace: 5s\n", "  shutdown_grace: 5s\n  claim_idle: 1s\n"))
    big_job = '{"template": "outage", "groups": ["oncall"], "vars": {"x": "' + "y" * 200000 + '"}}'
    claimed = env.r.xadd("tocsin:jobs:high", {"job": big_job})
    # Another instance read it, and died.
    env.r.xgroup_create("tocsin:jobs:high", "tocsind", "0")
    env.r.xreadgroup("tocsind", "gone-1", {"tocsin:jobs:high": ">"}, count=1)
    env.start_tocsind()
    wide = env.r.xadd("tocsin:jobs:normal", {f"f{i}": "v" * 300 for i in range(500)})
    env.xadd_job({"id": "BEHIND", "template": "outage", "groups": ["oncall"]})
    assert env.wait_done("BEHIND")["delivered"] == "1"

    def dead():
        return {f["entry"]: f for _, f in env.r.xrange("tocsin:dead")}
    wait_for(lambda: claimed in dead() and wide in dead(), 30, "both dead-lettered")
    d = dead()
    assert d[wide]["stream"] == "normal" and d[wide]["body"] == "", d[wide]
    assert d[wide]["reason"].startswith("entry too large to read: 500 fields, "), d[wide]
    assert d[claimed]["stream"] == "high" and d[claimed]["body"] == big_job[:65536], \
        d[claimed]["reason"]
    assert d[claimed]["reason"].startswith("entry too large to read: 1 fields, "), d[claimed]
    wait_for(lambda: env.pending() == 0, 20, "nothing pending")
    # The sweep's script dead-letters and acknowledges before tocsind reads
    # its answer and logs it: wait for the second line, never assume it.
    wait_for(lambda: env.log().count("event=too-large") == 2, 20, "both logged")
    log = env.log()
    assert "conn=intake event=reply-refused" in log and "conn=cmd event=reply-refused" in log, \
        log[-3000:]
    assert log.count("event=too-large") == 2, log[-3000:]
    env.xadd_job({"id": "AFTER", "template": "outage", "groups": ["oncall"]})
    env.wait_done("AFTER")
    sanitizer_clean(env)


def test_string_past_the_bulk_limit_is_refused_while_it_arrives(env):
    """With Redis taking strings larger than tocsind's TC_LIMIT_REDIS_BULK
    (1 MiB), a job field of 8 MiB is refused once tocsind holds more than
    that of it, never whole; it is dead-lettered with the start of its
    text, and the next job goes through."""
    env.start_redis()
    env.r.config_set("proto-max-bulk-len", str(64 * MIB))
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""")
    env.start_tocsind()
    env.xadd_job({"id": "WARM", "template": "outage", "groups": ["oncall"]})
    env.wait_done("WARM")
    before = peak_rss(env.tocsind_proc.pid)
    huge = env.r.xadd("tocsin:jobs:normal", {"job": "z" * (8 * MIB)})
    env.xadd_job({"id": "NEXT", "template": "outage", "groups": ["oncall"]})
    env.wait_done("NEXT")
    grown = peak_rss(env.tocsind_proc.pid) - before
    assert grown < GROWTH_BOUND, f"peak RSS grew by {grown / MIB:.1f} MiB"
    dead = wait_for(lambda: [f for _, f in env.r.xrange("tocsin:dead") if f["entry"] == huge],
                    20, "the dead letter")
    assert dead[0]["body"] == "z" * 65536, len(dead[0]["body"])
    assert dead[0]["reason"].startswith("entry too large to read: 1 fields, "), dead[0]
    assert "still arriving (TC_LIMIT_REDIS_BULK)" in env.log(), env.log()[-2000:]
    sanitizer_clean(env)
