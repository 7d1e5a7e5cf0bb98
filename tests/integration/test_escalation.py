"""Escalation through real peers: a webhook receiver and the SMS gateway
simulator (tests/peers/smsgw.js). A job with a policy writes its round
<id>.esc.1 asleep in tocsin:scheduled by `after`; the round skips members
who acknowledged (through the real listener), uses each member's next
channel of the policy, adds the policy's groups, writes the next round up
to `rounds`, and survives a restart. Rounds that should wait an hour are
made due by moving their score in tocsin:scheduled, so no test depends on
how fast the machine is; one test waits for a 1s `after` to pass."""

import json
import signal

from harness import check_counts, now_ms, wait_for, wake_now
from smspeers import Gateway, add_sms, gateway_provider, sms_template
from test_ack import SECRET, request

PUBLIC = "https://tocsin.example.org/base"


def start(env, after="1h", rounds=2, stop_at=None, restart=False):
    env.start_redis(appendonly=restart)
    env.start_receiver()
    gw = Gateway(env, "gw")
    groups = (
        "  oncall:\n    members:\n"
        f"      - {{name: Ada, webhook: \"{env.hook('ada')}\", phone: \"+14155550101\","
        " channels: [webhook, sms]}\n"
        f"      - {{name: Bob, webhook: \"{env.hook('bob')}\", phone: \"+14155550102\","
        " channels: [webhook, sms]}\n"
        "  managers:\n    members:\n"
        "      - {name: Carol, phone: \"+14155550103\", channels: [sms]}\n")
    env.write_config(groups)
    policy = (f"escalations:\n  page:\n    after: {after}\n    rounds: {rounds}\n"
              "    channels: [webhook, sms]\n    groups: [managers]\n")
    if stop_at:
        policy += f"    stop_at: {stop_at}\n"
    add_sms(env, gateway_provider("gw", gw),
            top=f"public_url: {PUBLIC}/\nack_secret: ${{TOCSIN_ACK_SECRET}}\n")
    with open(env.config, "a") as f:
        f.write(policy)
    with open(f"{env.dir}/templates/outage/webhook.json", "w") as f:
        f.write('{"member": "{{member.name}}", "ack": "{{ack_url}}",'
                ' "round": "{{escalation.round}}"}\n')
    sms_template(env, "{{member.name}} round {{escalation.round}} {{{ack_url}}}")
    env.extra_env = {"TOCSIN_ACK_SECRET": SECRET}
    env.start_tocsind()
    return gw


def hooks(env):
    """(member, round, ack path) of every webhook received, in order."""
    out = []
    for r in env.received():
        if r.get("body"):
            b = json.loads(r["body"])
            out.append((b["member"], b["round"], b["ack"][len(PUBLIC):]))
    return out


def texts(gw):
    return [(b["to"], b["text"]) for b in (json.loads(q["body"]) for q in gw.requests())]


def ack(env, path):
    status, page = request(env, path, "POST", {})
    assert status == 200 and "was recorded" in page, (status, page)


def test_rounds_skip_acknowledged_next_channel_added_group(env):
    gw = start(env)
    before = now_ms()
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "webhook",
                "--id", "J", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("J")
    assert sorted((m, n) for m, n, _ in hooks(env)) == [("Ada", ""), ("Bob", "")]
    r = env.cli("status", "J")
    assert "escalation next round J.esc.1" in r.stdout, r.stdout
    # Round 1 sleeps until `after` from the job's start, written with it.
    score = env.r.zscore("tocsin:scheduled", "J.esc.1")
    assert before + 3600_000 <= score <= now_ms() + 3600_000, score
    child = env.job("J.esc.1")
    assert child["state"] == "scheduled" and env.job("J")["escalation_next"] == "J.esc.1"
    body = json.loads(child["job"])
    assert body["escalation"] == "page" and body["channels"] == ["webhook", "sms"], body
    assert body["groups"] == ["oncall", "managers"], body

    ada = [p for m, _, p in hooks(env) if m == "Ada"][0]
    ack(env, ada)
    wake_now(env, "J.esc.1")
    env.wait_done("J.esc.1")
    # Ada acknowledged: nothing. Bob: his first channel of the policy;
    # Carol (the added group): hers, SMS.
    wait_for(lambda: len(texts(gw)) >= 1, 30, "the round's SMS")
    assert [(m, n) for m, n, _ in hooks(env)][2:] == [("Bob", "1")], hooks(env)
    assert texts(gw)[0][0] == "+14155550103" and "Carol round 1 " in texts(gw)[0][1]
    rec = env.job("J.esc.1")
    assert rec["planned"] == "2", rec
    check_counts(rec)
    # The round writes the next one; rounds: 2 stops there.
    assert env.job("J.esc.1")["escalation_next"] == "J.esc.2"

    # Bob acknowledges round 1's message: it counts for the whole job.
    bob = [p for m, n, p in hooks(env) if m == "Bob" and n == "1"][0]
    ack(env, bob)
    assert len(env.r.hkeys("tocsin:job:{J}:acks")) == 2
    wake_now(env, "J.esc.2")
    env.wait_done("J.esc.2")
    # Only Carol is left, on her second channel of the policy (her last: SMS).
    wait_for(lambda: len(texts(gw)) >= 2, 30, "round 2's SMS")
    assert len(hooks(env)) == 3, hooks(env)
    assert texts(gw)[1][0] == "+14155550103" and "Carol round 2 " in texts(gw)[1][1]
    assert env.job("J.esc.2")["planned"] == "1"
    assert "escalation_next" not in env.job("J.esc.2")
    assert not env.r.exists("tocsin:job:{J.esc.3}")
    assert len(texts(gw)) == 2


def test_round_fires_after_after_and_uses_the_next_channel(env):
    gw = start(env, after="1s", rounds=1)
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "webhook",
                "--id", "K", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("K")
    env.wait_done("K.esc.1", timeout=60)
    created = env.job("K")["created_at"]
    assert env.job("K.esc.1")["done_at"] > created
    wait_for(lambda: len(hooks(env)) >= 4 and len(texts(gw)) >= 1, 30, "round 1")
    assert sorted((m, n) for m, n, _ in hooks(env)) == [
        ("Ada", ""), ("Ada", "1"), ("Bob", ""), ("Bob", "1")]
    assert [t[0] for t in texts(gw)] == ["+14155550103"]
    assert not env.r.exists("tocsin:job:{K.esc.2}")


def test_restart_between_rounds_loses_nothing(env):
    start(env, rounds=1)
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "webhook",
                "--id", "R", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("R")
    # The round sleeps in Redis, not in this tocsind: kill it, start again.
    env.stop(env.tocsind_proc, signal.SIGKILL)
    env.start_tocsind()
    wake_now(env, "R.esc.1")
    env.wait_done("R.esc.1")
    wait_for(lambda: len(hooks(env)) >= 4, 30, "round 1's webhooks")
    assert sorted((m, n) for m, n, _ in hooks(env)) == [
        ("Ada", ""), ("Ada", "1"), ("Bob", ""), ("Bob", "1")]
    check_counts(env.job("R.esc.1"))


def test_cancel_cancels_the_rounds(env):
    start(env)
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "webhook",
                "--id", "C", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("C")
    assert env.job("C.esc.1")["state"] == "scheduled"
    # The job is done, its round is not: cancel stops the round.
    r = env.cli("cancel", "C")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "C.esc.1 cancelled" in r.stdout, r.stdout
    assert env.job("C.esc.1")["state"] == "cancelled"
    assert env.r.zscore("tocsin:scheduled", "C.esc.1") is None
    assert env.r.pttl("tocsin:job:{C.esc.1}") > 0
    # Nothing is left to cancel a second time.
    r = env.cli("cancel", "C")
    assert r.returncode == 1 and "already done" in r.stderr, (r.stdout, r.stderr)
    assert not env.r.exists("tocsin:job:{C.esc.2}")


def test_stop_at_stops_escalating(env):
    gw = start(env, rounds=2, stop_at="50%")
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "sms",
                "--id", "S", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("S")
    # Two members reached on SMS: the measure of stop_at.
    assert env.job("S")["members"] == "2"
    wait_for(lambda: len(texts(gw)) >= 2, 30, "the job's SMS")
    link = [t for to, t in texts(gw) if to == "+14155550101"][0].rsplit(" ", 1)[1]
    ack(env, link[len(PUBLIC):])
    # One of two confirmed is 50%: round 1 stops, sends nothing, writes no
    # round 2.
    wake_now(env, "S.esc.1")
    env.wait_done("S.esc.1")
    rec = env.job("S.esc.1")
    assert rec["stopped"] and rec["planned"] == "0", rec
    assert "escalation_next" not in rec
    assert not env.r.exists("tocsin:job:{S.esc.2}")
    r = env.cli("status", "S.esc.1")
    assert "escalation stopped at " in r.stdout, r.stdout
    assert len(texts(gw)) == 2 and len(hooks(env)) == 0


def sms_link(gw, to, n):
    """The acknowledgement path in the n-th SMS (from 0) sent to number to."""
    link = [t for num, t in texts(gw) if num == to][n].rsplit(" ", 1)[1]
    return link[len(PUBLIC):]


def test_share_counts_the_members_a_policy_adds(env):
    """stop_at 75%. The job reaches Ada and Bob (2 members); Ada confirms:
    50%, round 1 goes on, to Bob and to Carol of the added group (3
    members now, counted once each in the root's record whatever the
    rounds). Carol confirms: 2 of 3 is 67%, so round 2 goes on too (with
    the added member left out of the measure it would have been 2 of 2
    and stopped). `tocsin status` and `report` show the family."""
    gw = start(env, rounds=2, stop_at="75%")
    r = env.cli("send", "--template", "outage", "--group", "oncall", "--channel", "sms",
                "--id", "F", "--escalation", "page")
    assert r.returncode == 0, r.stderr
    env.wait_done("F")
    wait_for(lambda: len(texts(gw)) >= 2, 30, "the job's SMS")
    assert (env.job("F")["members"], env.job("F").get("confirmed")) == ("2", None)
    ack(env, sms_link(gw, "+14155550101", 0))
    assert env.job("F")["confirmed"] == "1"

    wake_now(env, "F.esc.1")
    rec = env.wait_done("F.esc.1")
    assert "stopped" not in rec and rec["planned"] == "2", rec
    wait_for(lambda: len(texts(gw)) >= 3, 30, "round 1's SMS to Carol")
    # Bob is counted once: his round-1 message went by webhook.
    assert env.job("F")["members"] == "3"
    assert "members" not in env.job("F.esc.1")
    ack(env, sms_link(gw, "+14155550103", 0))
    assert env.job("F")["confirmed"] == "2"
    r = env.cli("status", "F")
    assert "confirmed  2 of 3 members (67%" in r.stdout, r.stdout
    assert "round 1    F.esc.1 [done] planned 2" in r.stdout, r.stdout
    assert "round 2    F.esc.2 [scheduled] planned 0" in r.stdout, r.stdout

    wake_now(env, "F.esc.2")
    rec = env.wait_done("F.esc.2")
    assert "stopped" not in rec and rec["planned"] == "1", rec  # Bob only
    wait_for(lambda: len(texts(gw)) >= 4, 30, "round 2's SMS to Bob")
    assert texts(gw)[3][0] == "+14155550102" and "Bob round 2 " in texts(gw)[3][1]
    check_counts(env.job("F.esc.2"))

    r = env.cli("status", "F", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    acks = st["acknowledgements"]
    assert (acks["members"], acks["confirmed"], acks["acknowledged"]) == (3, 2, 2), acks
    assert [(x["id"], x["round"], x["state"], x["planned"]) for x in st["rounds"]] == [
        ("F.esc.1", 1, "done", 2), ("F.esc.2", 2, "done", 1)], st["rounds"]
    assert st["rounds"][0]["acknowledged"] == 1, st["rounds"]

    # The report: every round's deliveries, each row saying which.
    r = env.cli("report", "F", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    got = sorted((d["round"], d["job"], d["member"], d["channel"], d["state"]) for d in rows)
    assert got == [
        (0, "F", "Ada", "sms", "acknowledged"), (0, "F", "Bob", "sms", "sent"),
        (1, "F.esc.1", "Bob", "webhook", "delivered"),
        (1, "F.esc.1", "Carol", "sms", "acknowledged"),
        (2, "F.esc.2", "Bob", "sms", "sent")], got
    carol = [d for d in rows if d["member"] == "Carol"][0]
    assert carol["acknowledged_after_s"] >= 0, carol
    # Whom to chase, over the whole family: Bob, in every round.
    r = env.cli("report", "F", "--unconfirmed", "--json")
    assert sorted((d["round"], d["member"]) for d in json.loads(r.stdout)) == [
        (0, "Bob"), (1, "Bob"), (2, "Bob")], r.stdout
    r = env.cli("report", "F", "--unreached", "--json")
    assert json.loads(r.stdout) == [], r.stdout
    r = env.cli("report", "F")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("RND CHANNEL") for l in lines), r.stdout
    assert any(l.startswith("  1 sms      acknowledged") and "Carol" in l and
               "[acknowledged after " in l for l in lines), r.stdout
    assert sum(l.startswith("  2 sms      sent") for l in lines) == 1, r.stdout

    # Bob answers round 2: everyone confirmed.
    ack(env, sms_link(gw, "+14155550102", 1))
    assert (env.job("F")["members"], env.job("F")["confirmed"]) == ("3", "3")
    r = env.cli("status", "F")
    assert "confirmed  3 of 3 members (100%" in r.stdout, r.stdout
