"""Operator control: `tocsin cancel` and `tocsin dead list|show|retry|purge`,
against a real Redis, tocsind and receiver. The CLI's own part (the cancel
script, the dead-letter commands) is tested on records written directly;
test_cancel_running_job also needs tocsind's side of cancellation."""

import json
import os
import pty
import re
import signal
import subprocess

from harness import check_counts, job_key, wait_for

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def tocsin(env, *args, stdin=subprocess.DEVNULL):
    """The CLI with stdin not a terminal (env.cli inherits ours)."""
    argv = [os.path.join(env.build, "cli", "tocsin"), "-c", env.config] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env=env.env(), cwd=env.dir, stdin=stdin)


def one_member(env, retry=None, in_flight=1000, start=True):
    env.start_redis()
    env.start_receiver()
    kw = {"retry": retry} if retry else {}
    env.write_config(f"""  oncall:
    members:
      - {{name: Ada, webhook: "{env.hook('ada')}"}}
""", in_flight=in_flight, **kw)
    if start:
        env.start_tocsind()


def dead_ids(env):
    return [i for i, _ in env.r.xrange("tocsin:dead")]


# ---- cancel -------------------------------------------------------------------

def test_cancel_nonexistent_job_fails(env):
    one_member(env, start=False)
    for args in (["cancel", "NOPE"], ["cancel", "NOPE", "--json"]):
        r = tocsin(env, *args)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "no job 'NOPE'" in r.stderr, r.stderr
    assert not env.r.exists(job_key("NOPE"))
    assert env.r.xlen("tocsin:events") == 0


def test_cancel_right_after_send_waits_for_the_record(env):
    """A job sent a moment ago has no record until tocsind picks it up:
    cancel waits for it (up to 3 s) instead of saying there is no job.
    tocsind is held (SIGSTOP) while the job is sent and cancel starts, so
    cancel's first look usually finds no record; either way it must end
    with the job cancelled and exit 0."""
    one_member(env)
    env.tocsind_proc.send_signal(signal.SIGSTOP)
    try:
        env.xadd_job({"id": "QUICK", "template": "outage", "groups": ["oncall"],
                      "send_at": "2099-01-01T00:00:00Z"})
        p = subprocess.Popen([os.path.join(env.build, "cli", "tocsin"), "-c", env.config,
                              "cancel", "QUICK"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env.env(), cwd=env.dir,
                             stdin=subprocess.DEVNULL)
    finally:
        env.tocsind_proc.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "cancelled" in out, (p.returncode, out, err)
    assert env.job("QUICK")["state"] == "cancelled", env.job("QUICK")
    assert env.r.zscore("tocsin:scheduled", "QUICK") is None


def test_cancel_done_job_fails(env):
    one_member(env)
    env.xadd_job({"id": "FIN", "template": "outage", "groups": ["oncall"]})
    env.wait_done("FIN")
    events = env.r.xlen(job_key("FIN", "events"))
    r = tocsin(env, "cancel", "FIN")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "job FIN is already done" in r.stderr, r.stderr
    rec = env.job("FIN")
    assert rec["state"] == "done" and "cancelled_at" not in rec, rec
    assert env.r.xlen(job_key("FIN", "events")) == events


def test_cancel_script_on_a_record(env):
    """The script alone, on a record written by hand (no tocsind)."""
    one_member(env, start=False)
    env.r.hset(job_key("REC"), mapping={
        "entry": "normal/1-0", "state": "sending", "template": "outage",
        "severity": "normal", "incident": "", "created_at": "2026-01-01T00:00:00.000Z",
        "planned": 3, "queued": 3, "webhook.queued": 3})
    r = tocsin(env, "cancel", "REC")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ("job REC cancelled; tocsind stops its remaining deliveries "
                        "(see tocsin status REC)\n"), r.stdout
    rec = env.job("REC")
    assert rec["state"] == "cancelled" and RFC3339_MS.match(rec["cancelled_at"]), rec
    assert rec["queued"] == "3" and rec["planned"] == "3", rec  # counts are tocsind's
    ev = env.r.xrange(job_key("REC", "events"))
    assert len(ev) == 1 and ev[0][1] == {"job": "REC", "state": "cancelled",
                                         "at": rec["cancelled_at"]}, ev
    ev = env.r.xrange("tocsin:events")
    assert len(ev) == 1 and ev[0][1] == {"job": "REC", "event": "cancelled",
                                         "at": rec["cancelled_at"]}, ev
    # Again: nothing to do, said so, exit 0, nothing written.
    r = tocsin(env, "cancel", "REC")
    assert r.returncode == 0 and "job REC was already cancelled at " in r.stdout, r.stdout
    r = tocsin(env, "cancel", "REC", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"job": "REC", "state": "cancelled", "already": True,
                                    "cancelled_at": rec["cancelled_at"]}, r.stdout
    assert env.r.xlen(job_key("REC", "events")) == 1 and env.r.xlen("tocsin:events") == 1
    # --json of a fresh cancel; a scheduled job can be cancelled too.
    env.r.hset(job_key("LATER"), mapping={"entry": "normal/2-0", "state": "scheduled"})
    r = tocsin(env, "cancel", "--json", "LATER")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["already"] is False and out["state"] == "cancelled", out
    assert env.job("LATER")["cancelled_at"] == out["cancelled_at"]
    # status shows it.
    r = tocsin(env, "status", "REC")
    assert "state      cancelled" in r.stdout, r.stdout


def test_cancel_running_job(env):
    """A big roster; deliveries first go through, then pile up
    in `retrying` (503 with Retry-After); cancel: the job ends `cancelled`,
    its entry acknowledged, counts adding up, some deliveries cancelled."""
    env.start_redis()
    env.start_receiver()
    n, cap = 3000, 10
    roster = env.write_roster(n)
    env.write_config(f"  all:\n    roster: {roster}\n", in_flight=cap,
                     retry="{attempts: 8, base: 1s, max: 2s}")
    env.start_tocsind()
    env.xadd_job({"id": "BIG", "template": "outage", "groups": ["all"]})
    wait_for(lambda: int(env.job("BIG").get("delivered", 0)) > 50, 30, "progress")
    env.set_status("503 2")
    wait_for(lambda: int(env.job("BIG").get("retrying", 0)) > 0, 30, "retrying deliveries")
    r = tocsin(env, "cancel", "BIG")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    seen = {g["headers"]["webhook-id"] for g in env.received()}
    env.set_status(204)
    # Acknowledged once every delivery is final: whatever was under way
    # has been answered, so the receiver has it.
    wait_for(lambda: env.pending() == 0, 60, "the entry acknowledged")
    rec = env.job("BIG")
    assert rec["state"] == "cancelled", rec
    check_counts(rec)
    assert int(rec.get("cancelled", 0)) > 0, rec
    for s in ("queued", "sending", "retrying"):
        assert int(rec.get(s, 0)) == 0, (s, rec)
    assert int(rec["delivered"]) < n, rec
    assert env.r.zcard("tocsin:retry") == 0
    # Nothing new started after the cancel beyond what was in flight.
    later = {g["headers"]["webhook-id"] for g in env.received()} - seen
    assert len(later) <= cap, f"{len(later)} new deliveries after cancel"
    assert tocsin(env, "cancel", "BIG").returncode == 0


# ---- dead list / show -----------------------------------------------------------

INVALID = [
    "{\"template\": ",
    {"id": "BADGROUP", "template": "outage", "groups": ["nobody"]},
    {"template": "outage", "groups": ["oncall"], "c" + "o" * 150: 1},
]


def make_dead_jobs(env):
    entries = [env.xadd_job(j) for j in INVALID]
    wait_for(lambda: env.r.xlen("tocsin:dead") == len(INVALID), 20, "dead letters")
    return entries


def test_dead_list_and_show(env):
    one_member(env)
    entries = make_dead_jobs(env)
    ids = dead_ids(env)
    r = tocsin(env, "dead", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "AT", "JOB", "REASON"], lines
    assert len(lines) == 1 + len(INVALID), lines
    for line, i in zip(lines[1:], ids):
        assert line.startswith(i + " ") and " job " in line, line
    assert "BADGROUP" in lines[2] and "unknown group" in lines[2], lines[2]
    # A long reason is cut in the table.
    assert lines[3].endswith("..."), lines[3]
    assert len(lines[3][80:]) <= 100 + 3, lines[3]
    # --count, oldest first, and a note on what is left.
    r = tocsin(env, "dead", "list", "--count", "2")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines[1:3]] == ids[:2], lines
    assert lines[3] == "(2 of 3, oldest first: --count N shows more)", lines
    # --json: every field, as stored.
    r = tocsin(env, "dead", "list", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    stored = env.r.xrange("tocsin:dead")
    assert got == [dict(f, id=i) for i, f in stored], got
    assert got[0]["body"] == INVALID[0] and got[0]["entry"] == entries[0]
    assert got[1]["job"] == "BADGROUP" and got[1]["stream"] == "normal"
    # show: every field, the body pretty-printed when it is JSON.
    r = tocsin(env, "dead", "show", ids[1])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith(f"dead letter {ids[1]}\n"), out
    for k in ("kind", "stream", "entry", "job", "reason", "at"):
        assert re.search(rf"^  {k} +\S", out, re.M), (k, out)
    assert "  body       (JSON)\n    {\n      \"id\": \"BADGROUP\",\n" in out, out
    r = tocsin(env, "dead", "show", ids[0])
    assert "  body       {\"template\": \n" in r.stdout, r.stdout
    r = tocsin(env, "dead", "show", ids[1], "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == got[1], r.stdout
    # Not there.
    r = tocsin(env, "dead", "show", "1-0")
    assert r.returncode == 1 and "no dead letter '1-0'" in r.stderr, r.stderr


def test_dead_list_empty_and_escaped(env):
    one_member(env, start=False)
    r = tocsin(env, "dead", "list")
    assert r.returncode == 0 and r.stdout == "no dead letters in tocsin:dead\n", r.stdout
    r = tocsin(env, "dead", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stdout
    # What a producer wrote reaches the terminal escaped, and the JSON
    # output stays JSON whatever the bytes.
    raw = redis_bytes(env)
    raw.xadd("tocsin:dead", {"kind": "job", "stream": "normal", "entry": "5-0",
                             "job": "", "reason": b"bad \x1b[31mred\xff",
                             "body": b"\x00\x1b]0;title\x07", "at": "x"})
    r = tocsin(env, "dead", "list")
    assert "\x1b" not in r.stdout and "bad \\x1b[31mred" in r.stdout, r.stdout
    i = raw.xrange("tocsin:dead")[0][0].decode()
    r = subprocess.run([os.path.join(env.build, "cli", "tocsin"), "-c", env.config,
                        "dead", "show", i], capture_output=True, env=env.env(),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and b"\x1b" not in r.stdout and b"\x07" not in r.stdout, r.stdout
    r = tocsin(env, "dead", "show", i, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["reason"] == "bad \x1b[31mred\\xff", r.stdout


def redis_bytes(env):
    import redis
    return redis.Redis(unix_socket_path=env.redis_sock)


# ---- dead retry ---------------------------------------------------------------------

def test_dead_retry_job_with_fixed_file(env):
    one_member(env)
    env.xadd_job({"id": "FIXME", "template": "outage", "groups": ["nobody"]})
    wait_for(lambda: env.r.xlen("tocsin:dead") == 1, 20, "the dead letter")
    dead = dead_ids(env)[0]
    # The stored text is still invalid: refused, kept.
    r = tocsin(env, "dead", "retry", dead)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert 'unknown group "nobody"' in r.stderr and "--job FILE" in r.stderr, r.stderr
    assert dead_ids(env) == [dead]
    bad = os.path.join(env.dir, "bad.json")
    with open(bad, "w") as f:
        f.write('{"id": "FIXME", "template": "outage", "groups": "oncall"}')
    r = tocsin(env, "dead", "retry", dead, "--job", bad)
    assert r.returncode == 1 and "groups: not an array" in r.stderr, r.stderr
    r = tocsin(env, "dead", "retry", dead, "--job", os.path.join(env.dir, "missing.json"))
    assert r.returncode == 1 and "No such file" in r.stderr, r.stderr
    assert dead_ids(env) == [dead]
    assert env.r.xlen("tocsin:jobs:normal") == 1
    # An id already accepted would be taken for a duplicate: refused.
    env.r.hset(job_key("TAKEN"), mapping={"state": "done", "entry": "normal/1-0"})
    taken = os.path.join(env.dir, "taken.json")
    with open(taken, "w") as f:
        f.write('{"id": "TAKEN", "template": "outage", "groups": ["oncall"]}')
    r = tocsin(env, "dead", "retry", dead, "--job", taken)
    assert r.returncode == 1 and "job TAKEN was already accepted" in r.stderr, r.stderr
    good = os.path.join(env.dir, "good.json")
    with open(good, "w") as f:
        f.write('{"id": "FIXME", "template": "outage", "groups": ["oncall"]}\n')
    r = tocsin(env, "dead", "retry", dead, "--job", good)
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = re.match(rf"^dead letter {dead}: job FIXME queued again on tocsin:jobs:normal "
                 r"\(entry (\d+-\d+)\)\n$", r.stdout)
    assert m, r.stdout
    assert env.r.xrange("tocsin:jobs:normal", m[1], m[1])[0][1] == {
        "job": '{"id": "FIXME", "template": "outage", "groups": ["oncall"]}\n'}
    assert env.r.xlen("tocsin:dead") == 0
    rec = env.wait_done("FIXME")
    assert rec["delivered"] == "1", rec
    assert env.pending() == 0
    # Gone now.
    r = tocsin(env, "dead", "retry", dead)
    assert r.returncode == 1 and f"no dead letter '{dead}'" in r.stderr, r.stderr


def test_dead_retry_job_stored_text_and_json(env):
    """A job dead-lettered for a reason since fixed (here: written to the
    dead stream by hand) is retried as stored; its severity picks the
    stream."""
    one_member(env)
    body = '{"template": "outage", "groups": ["oncall"], "severity": "high"}'
    env.r.xadd("tocsin:dead", {"kind": "job", "stream": "high", "entry": "1-1", "job": "",
                               "reason": "groups[0]: unknown group", "body": body,
                               "at": "2026-01-01T00:00:00.000Z"})
    dead = dead_ids(env)[0]
    r = tocsin(env, "dead", "retry", dead, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dead"] == dead and out["kind"] == "job" and out["stream"] == "tocsin:jobs:high"
    assert out["job"] == "high-" + out["entry"], out  # no id: <severity>-<entry id>
    rec = env.wait_done(out["job"])
    assert rec["delivered"] == "1" and rec["severity"] == "high", rec


def test_dead_retry_delivery(env):
    one_member(env, retry="{attempts: 2, base: 10ms, max: 20ms}")
    env.set_status(500)
    env.xadd_job({"id": "DLV", "template": "outage", "groups": ["oncall"],
                  "incident": "INC-7", "vars": {"message": "hi"},
                  "send_at": "2020-01-01T00:00:00Z"})
    wait_for(lambda: any(f.get("kind") == "delivery" for _, f in env.r.xrange("tocsin:dead")),
             20, "the delivery's dead letter")
    rec = env.wait_done("DLV")
    assert rec["failed"] == "1", rec
    dead = dead_ids(env)[0]
    r = tocsin(env, "dead", "show", dead)
    assert "  kind       delivery\n" in r.stdout and "  record     (JSON)\n" in r.stdout, r.stdout
    r = tocsin(env, "dead", "list")
    assert f"webhook {env.hook('ada')}: attempt 1" in r.stdout, r.stdout
    r = tocsin(env, "dead", "retry", dead, "--job", "/dev/null")
    assert r.returncode == 2 and "--job is for dead letters of kind job" in r.stderr, r.stderr
    env.set_status(204)
    before = len(env.received())
    r = tocsin(env, "dead", "retry", dead)
    assert r.returncode == 0, (r.stdout, r.stderr)
    new = f"DLV.retry.{dead}"
    assert r.stdout.startswith(f"dead letter {dead}: delivery re-sent as job {new} "
                               "on tocsin:jobs:normal (entry "), r.stdout
    assert env.r.xlen("tocsin:dead") == 0
    rec = env.wait_done(new)
    assert rec["planned"] == "1" and rec["delivered"] == "1", rec
    assert rec["incident"] == "INC-7" and rec["template"] == "outage", rec
    job = json.loads(rec["job"])
    assert job == {"id": new, "template": "outage", "incident": "INC-7",
                   "vars": {"message": "hi"}, "severity": "normal",
                   "channels": ["webhook"],
                   "recipients": [{"name": "Ada", "webhook": env.hook("ada"),
                                   "channels": ["webhook"]}]}, job
    got = env.received()[before:]
    assert len(got) == 1 and got[0]["path"] == "/hooks/ada" and got[0]["verified"], got
    assert env.job("DLV")["failed"] == "1"  # the original record is history


def test_dead_retry_delivery_long_job_id(env):
    """A record written by hand: the rebuilt job's id stays within 128."""
    one_member(env)
    long_id = "L" * 120
    env.r.hset(job_key(long_id), mapping={
        "state": "done", "severity": "critical", "entry": "critical/1-0",
        "job": json.dumps({"id": long_id, "template": "outage", "groups": ["oncall"],
                           "severity": "critical"})})
    record = {"channel": "webhook", "address": env.hook("ada"), "group": "oncall",
              "member": "Ada", "state": "failed", "attempts": 3,
              "last_outcome": "http 500"}
    env.r.xadd("tocsin:dead", {"kind": "delivery", "job": long_id, "delivery": "d" * 32,
                               "channel": "webhook", "record": json.dumps(record),
                               "reason": "attempt 1: http 500", "at": "x"})
    dead = dead_ids(env)[0]
    r = tocsin(env, "dead", "retry", dead, "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    new = out["job"]
    assert len(new) <= 128 and new.startswith("LLLL") and new.endswith(f".retry.{dead}"), new
    assert out["stream"] == "tocsin:jobs:critical", out
    rec = env.wait_done(new)
    assert rec["delivered"] == "1" and rec["severity"] == "critical", rec


def test_dead_retry_failures(env):
    one_member(env, start=False)
    env.r.xadd("tocsin:dead", {"kind": "delivery", "job": "GONE", "delivery": "d" * 32,
                               "channel": "webhook", "record": "{}", "reason": "r", "at": "x"})
    env.r.xadd("tocsin:dead", {"kind": "parcel", "job": "X", "at": "x"})
    gone, odd = dead_ids(env)
    r = tocsin(env, "dead", "retry", gone)
    assert r.returncode == 1 and "record of job GONE is gone" in r.stderr, r.stderr
    r = tocsin(env, "dead", "retry", odd)
    assert r.returncode == 1 and "unknown kind 'parcel'" in r.stderr, r.stderr
    assert dead_ids(env) == [gone, odd]
    assert env.r.xlen("tocsin:jobs:normal") == 0


# ---- dead purge -------------------------------------------------------------------

def test_dead_purge(env):
    one_member(env, start=False)
    for i in range(3):
        env.r.xadd("tocsin:dead", {"kind": "job", "reason": f"r{i}", "at": "x"})
    # A terminal: asks; "n" keeps everything.
    assert purge_on_tty(env, b"n\n")[0] == 1
    assert env.r.xlen("tocsin:dead") == 3
    code, out = purge_on_tty(env, b"y\n")
    assert code == 0 and "purge 3 dead letters? [y/N]" in out, out
    assert env.r.xlen("tocsin:dead") == 0
    for i in range(2):
        env.r.xadd("tocsin:dead", {"kind": "job", "reason": f"r{i}", "at": "x"})
    r = tocsin(env, "dead", "purge", "--yes")
    assert r.returncode == 0 and r.stdout == "purged 2 dead letters from tocsin:dead\n", r.stdout
    assert env.r.xlen("tocsin:dead") == 0
    r = tocsin(env, "dead", "purge", "--json")  # nothing to purge: no question
    assert r.returncode == 0 and json.loads(r.stdout) == {"purged": 0}, r.stdout
    # Not a terminal (a script), no option: DESIGN.md's `dead purge` purges.
    env.r.xadd("tocsin:dead", {"kind": "job", "reason": "r", "at": "x"})
    r = tocsin(env, "dead", "purge")
    assert r.returncode == 0 and r.stdout == "purged 1 dead letter from tocsin:dead\n", r.stdout
    assert env.r.xlen("tocsin:dead") == 0


def purge_on_tty(env, answer):
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([os.path.join(env.build, "cli", "tocsin"), "-c", env.config,
                              "dead", "purge"], stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env.env(), cwd=env.dir)
        os.write(master, answer)
        out, err = p.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    return p.returncode, out.decode() + err.decode()


# ---- usage ------------------------------------------------------------------------

def test_usage_and_help(env):
    one_member(env, start=False)
    for args in (["cancel"], ["cancel", "A", "B"], ["cancel", "--bogus", "A"],
                 ["cancel", "bad id!"], ["cancel", "x" * 129],
                 ["dead"], ["dead", "bogus"], ["dead", "list", "extra"],
                 ["dead", "list", "--count", "0"], ["dead", "list", "--count", "10001"],
                 ["dead", "list", "--count", "5x"], ["dead", "list", "--count"],
                 ["dead", "show"], ["dead", "show", "abc"], ["dead", "show", "1-2-3"],
                 ["dead", "show", "1-0", "2-0"], ["dead", "retry"],
                 ["dead", "retry", "1-0", "--job"], ["dead", "retry", "1-x"],
                 ["dead", "purge", "--force"]):
        r = tocsin(env, *args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr and not r.stdout, (args, r.stdout, r.stderr)
    for args, want in ((["cancel", "--help"], "cancel JOB"),
                       (["dead", "--help"], "dead list"),
                       (["dead", "list", "--help"], "--count N"),
                       (["dead", "show", "--help"], "dead show ID"),
                       (["dead", "retry", "--help"], "--job FILE"),
                       (["dead", "purge", "--help"], "--yes")):
        r = env.cli(*args, config=False)  # no configuration needed for --help
        assert r.returncode == 0 and r.stdout.startswith("usage:") and want in r.stdout, \
            (args, r.stdout)
    r = env.cli("cancel", "--help", config=False)
    assert "a job not yet picked up has no record" in r.stdout.lower(), r.stdout
    r = env.cli("--help", config=False)
    assert "cancel JOB" in r.stdout and "dead list" in r.stdout, r.stdout
    # Redis unreachable: 3.
    env.stop(env.redis_proc)
    for args in (["cancel", "X"], ["dead", "list"], ["dead", "show", "1-0"],
                 ["dead", "retry", "1-0"], ["dead", "purge"], ["status", "X"],
                 ["report", "X"], ["send", "--template", "outage", "--group", "oncall"]):
        r = tocsin(env, *args)
        assert r.returncode == 3 and "cannot reach Redis" in r.stderr, (args, r.stderr)
    # ... but a usage error is still 2, and an invalid job 1: the arguments
    # are read before Redis is needed.
    for args, code in ((["cancel", "bad id!"], 2), (["dead", "show", "abc"], 2),
                       (["dead", "list", "--count", "0"], 2), (["status"], 2),
                       (["report", "X", "--unreached", "--unconfirmed"], 2),
                       (["send", "--group", "oncall"], 2),
                       (["send", "--template", "missing", "--group", "oncall"], 1)):
        r = tocsin(env, *args)
        assert r.returncode == code and "cannot reach Redis" not in r.stderr, \
            (args, r.returncode, r.stderr)
