"""channels.sms.max_per_job over rosters: a job whose audience includes a
roster is counted, roster rows included, before it is accepted; over the
budget it is refused as a whole (no SMS, no webhook) with the count and
the limit in the reason, in its record (`tocsin status`), the dead letters
(`tocsin dead show`) and the events; within it, it is sent. Against the
gateway simulator and the webhook receiver on loopback."""

import array
import fcntl
import json
import os
import signal
import termios

from harness import now_ms, rfc3339, wait_for
from smspeers import Gateway, add_sms, gateway_provider, phones, sms_template

# 200 characters of text: two GSM-7 segments per member.
LONG = "x" * 190


def roster(env, rows, name="people.csv"):
    """A roster of rows (name, phone, webhook, channels); returns its path."""
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        f.write("name,phone,webhook,channels\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    return path


def start(env):
    """Redis, the webhook receiver and the gateway simulator."""
    env.start_redis()
    env.start_receiver()
    return Gateway(env, "gw")


def setup(env, gw, groups, max_per_job):
    env.write_config(groups)
    add_sms(env, gateway_provider("gw", gw), extra=f"    max_per_job: {max_per_job}\n")
    sms_template(env, "{{service}} {{member.name}}")
    env.start_tocsind()


def sms_rows(n, start=100):
    return [(f"S{i}", p, "", "sms") for i, p in enumerate(phones(n, start))]


def unread(fd):
    """Bytes waiting in the pipe fd."""
    n = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, n)
    return n[0]


def refused(env, job_id, timeout=60):
    wait_for(lambda: env.job(job_id).get("refused"), timeout, f"job {job_id} refused")
    return env.job(job_id)


def hold_roster(path, first):
    """Puts a named pipe where the roster at path was (moved to the
    returned path) and writes its header and the rows first into it: the
    count reads them and then waits, with no timing involved, until the
    test closes the returned descriptor or puts the file back. Opened to
    read and write at once, so the reader never sees the end early."""
    whole = path + ".whole"
    os.replace(path, whole)
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR)
    os.write(fd, ("name,phone,webhook,channels\n" +
                  "".join(",".join(r) + "\n" for r in first)).encode())
    return whole, fd


def test_roster_over_the_budget_is_refused_whole_and_shown(env):
    """An inline webhook member and a roster of 4 SMS rows and 2 webhook
    rows: 8 segments over max_per_job 7. Nothing is sent on any channel;
    the record, `tocsin status`, `tocsin dead show` and the events say why
    with the count and the limit."""
    gw = start(env)
    rows = sms_rows(4) + [(f"W{i}", "", env.hook(f"w{i}"), "webhook") for i in range(2)]
    path = roster(env, rows)
    env.write_config(f"""  crew:
    members:
      - {{name: Hook, webhook: "{env.hook('inline')}", channels: [webhook]}}
    roster: {path}
""")
    add_sms(env, gateway_provider("gw", gw), extra="    max_per_job: 7\n")
    sms_template(env, "{{service}} {{member.name}}")
    env.start_tocsind()
    env.xadd_job({"id": "OVER", "template": "outage", "groups": ["crew"],
                  "vars": {"service": LONG}})
    rec = refused(env, "OVER")
    why = "would send 8 SMS segments, more than channels.sms.max_per_job 7"
    assert why in rec["refused"], rec
    assert rec["state"] == "done" and rec["planned"] == "0", rec
    # Final in Redis and acknowledged: nothing was planned, nothing can go.
    assert env.deliveries("OVER") == {}
    assert env.pending() == 0
    assert gw.requests() == [] and env.received() == []
    out = env.cli("status", "OVER")
    assert out.returncode == 1 and f"refused    job: {why}" in out.stdout, out
    dead = env.r.xrange("tocsin:dead")
    assert len(dead) == 1 and why in dead[0][1]["reason"], dead
    assert dead[0][1]["job"] == "OVER", dead
    show = env.cli("dead", "show", dead[0][0])
    assert show.returncode == 0 and why in show.stdout, show
    ev = [e for _, e in env.r.xrange("tocsin:events") if e.get("job") == "OVER"]
    assert [e["event"] for e in ev] == ["refused"] and why in ev[0]["reason"], ev
    assert "tocsin_jobs_total{outcome=\"refused\"} 1" in \
        __import__("urllib.request").request.urlopen(
            f"http://127.0.0.1:{env.http_port}/metrics", timeout=10).read().decode()


def test_roster_exactly_at_the_budget_is_sent(env):
    """4 SMS rows of 2 segments, an inline member and a job recipient with
    the number of one of them (counted once): 8 segments, max_per_job 8."""
    gw = start(env)
    nums = phones(4)
    path = roster(env, sms_rows(4))
    setup(env, gw, f"""  crew:
    members:
      - {{name: S0, phone: "{nums[0]}", channels: [sms]}}
    roster: {path}
""", 8)
    env.xadd_job({"id": "EXACT", "template": "outage", "groups": ["crew"],
                  "recipients": [{"name": "S1", "phone": nums[1], "channels": ["sms"]}],
                  "vars": {"service": LONG}})
    rec = env.wait_done("EXACT", timeout=60)
    assert "refused" not in rec, rec
    assert rec["sent"] == "4", rec
    assert sorted(json.loads(g["body"])["to"] for g in gw.requests()) == nums
    assert all(d["segments"] == 2 for d in env.deliveries("EXACT").values())


def test_mixed_roster_counts_only_the_rows_texted(env):
    """Rows on webhook, on sms and on both; the group's channels [webhook]
    and a row naming sms itself. Only the rows that get an SMS count:
    within the budget all go; one row more on sms is refused as a whole."""
    gw = start(env)
    nums = phones(4)
    rows = [("A", nums[0], "", "sms"),
            ("B", nums[1], env.hook("b"), "sms webhook"),
            ("C", nums[2], env.hook("c"), ""),          # the group's: webhook
            ("D", "", env.hook("d"), "webhook")]
    path = roster(env, rows)
    setup(env, gw, f"  crew:\n    channels: [webhook]\n    roster: {path}\n", 4)
    env.xadd_job({"id": "MIX", "template": "outage", "groups": ["crew"],
                  "vars": {"service": LONG}})
    rec = env.wait_done("MIX", timeout=60)
    assert "refused" not in rec and rec["sms.sent"] == "2", rec
    assert rec["webhook.delivered"] == "3", rec
    with open(path, "a") as f:
        f.write(f"E,{nums[3]},,sms\n")
    env.xadd_job({"id": "MIX-OVER", "template": "outage", "groups": ["crew"],
                  "vars": {"service": LONG}})
    rec = refused(env, "MIX-OVER")
    assert "would send 6 SMS segments, more than channels.sms.max_per_job 4" in \
        rec["refused"], rec
    assert len(gw.requests()) == 2 and len(env.received()) == 3


def test_refused_then_retried_under_a_raised_budget(env):
    """`tocsin dead retry` of a refused job after a reload that raised
    max_per_job: counted again, accepted (its refused record replaced) and
    sent."""
    gw = start(env)
    path = roster(env, sms_rows(3))
    setup(env, gw, f"  crew:\n    roster: {path}\n", 5)
    env.xadd_job({"id": "AGAIN", "template": "outage", "groups": ["crew"],
                  "vars": {"service": LONG}})
    refused(env, "AGAIN")
    text = open(env.config).read().replace("max_per_job: 5", "max_per_job: 6")
    with open(env.config, "w") as f:
        f.write(text)
    before = env.log().count("event=reloaded")
    env.tocsind_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: env.log().count("event=reloaded") > before, 30, "the reload")
    (dead_id, _), = env.r.xrange("tocsin:dead")
    out = env.cli("dead", "retry", dead_id)
    assert out.returncode == 0, out
    wait_for(lambda: env.job("AGAIN").get("state") == "done" and
             "refused" not in env.job("AGAIN"), 60, "the job sent again")
    rec = env.job("AGAIN")
    assert rec["sent"] == "3", rec
    assert len(gw.requests()) == 3


def test_sigkill_while_counting_then_restart_refuses_once(env):
    """tocsind is killed while it counts a roster over the budget: the roster
    is then a FIFO the test holds open, so the count cannot end and the job
    is neither accepted nor refused. The next start (the roster a file
    again) counts again and refuses it once, with the whole count. Nothing
    was sent."""
    gw = start(env)
    rows = [(f"P{i}", f"+1415{200 + i // 10000}{i % 10000:04d}", "", "sms")
            for i in range(3000)]
    path = roster(env, rows)
    setup(env, gw, f"  crew:\n    roster: {path}\n", 100)
    whole, fd = hold_roster(path, rows[:500])
    try:
        env.xadd_job({"id": "BIG", "template": "outage", "groups": ["crew"],
                      "vars": {"service": "short"}})
        wait_for(lambda: env.pending() == 1, 30, "the entry read")
        # Its 500 rows were read out of the pipe: the count is under way.
        wait_for(lambda: unread(fd) == 0, 30, "the count to read the rows")
        env.stop(env.tocsind_proc, signal.SIGKILL)
    finally:
        os.close(fd)
    assert env.r.exists("tocsin:job:{BIG}") == 0 and env.pending() == 1
    os.replace(whole, path)
    env.start_tocsind()
    rec = refused(env, "BIG", timeout=120)
    assert "would send 3000 SMS segments, more than channels.sms.max_per_job 100" in \
        rec["refused"], rec
    assert len(env.r.xrange("tocsin:dead")) == 1
    assert env.pending() == 0 and gw.requests() == []


def test_roster_grown_while_a_job_sleeps_is_counted_again_at_send_at(env):
    """A job with send_at: counted when it comes (within the budget: it
    goes to sleep), counted again when it wakes, after its roster grew
    over the budget: refused then, nothing sent."""
    gw = start(env)
    path = roster(env, sms_rows(2))
    setup(env, gw, f"  crew:\n    roster: {path}\n", 4)
    at = rfc3339(now_ms() + 3000)
    env.xadd_job({"id": "LATER", "template": "outage", "groups": ["crew"],
                  "vars": {"service": LONG}, "send_at": at})
    wait_for(lambda: env.job("LATER").get("state") == "scheduled", 30, "the job asleep")
    with open(path, "a") as f:
        f.write(f"S2,{phones(1, 300)[0]},,sms\n")
    rec = refused(env, "LATER")
    assert "would send 6 SMS segments, more than channels.sms.max_per_job 4" in \
        rec["refused"], rec
    assert env.deliveries("LATER") == {} and gw.requests() == []
    assert env.r.zcard("tocsin:scheduled") == 0 and env.pending() == 0


def test_reload_while_counting_counts_again_under_the_new_budget(env):
    """A reload while a job is counted starts its count again under the new
    configuration: the roster is a FIFO the test holds open (the count
    cannot end), then a file again; max_per_job is raised from 4 to 6 and
    tocsind reloaded: the 3 rows of 2 segments are sent, not refused."""
    gw = start(env)
    rows = sms_rows(3)
    path = roster(env, rows)
    setup(env, gw, f"  crew:\n    roster: {path}\n", 4)
    whole, fd = hold_roster(path, rows[:2])
    try:
        env.xadd_job({"id": "RELOAD", "template": "outage", "groups": ["crew"],
                      "vars": {"service": LONG}})
        wait_for(lambda: env.pending() == 1 and unread(fd) == 0, 30,
                 "the count to read the rows")
        # The count holds the FIFO open; the reload reads the file.
        os.replace(whole, path)
        with open(env.config) as f:
            text = f.read().replace("max_per_job: 4", "max_per_job: 6")
        with open(env.config, "w") as f:
            f.write(text)
        before = env.log().count("event=reloaded")
        env.tocsind_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: env.log().count("event=reloaded") > before, 30, "the reload")
        rec = env.wait_done("RELOAD", timeout=60)
    finally:
        os.close(fd)
    assert "refused" not in rec and rec["sent"] == "3", rec
    assert len(gw.requests()) == 3
