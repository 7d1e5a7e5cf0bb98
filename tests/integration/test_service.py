"""Least privilege (README, "Running as a service"): examples/tocsind.service
keeps systemd's exposure score at the level it reached (systemd-analyze
security, offline), verifies, and tocsind does all its work, reloads and
stops as an unprivileged user with no capability and no way to gain one,
as that unit runs it."""

import os
import re
import signal
import subprocess

from harness import ROOT, check_counts, wait_for

UNIT = os.path.join(ROOT, "examples", "tocsind.service")
# The overall exposure systemd-analyze gives the unit (0 to 10, lower is
# better; "OK" up to 3.9). What is left is what a network client needs:
# the network, IPv4/IPv6 and unix sockets, no IP allow list (webhooks may
# go to any public address), the host's root, the RTC ProtectClock allows.
EXPOSURE_MAX = 1.1


def analyze(*args):
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60)


def test_the_unit_exposure_stays_at_its_level(env):
    r = analyze("security", "--offline=true", UNIT)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Overall exposure level for tocsind\.service: ([0-9.]+) (\w+)", r.stdout)
    assert m, r.stdout
    assert float(m.group(1)) <= EXPOSURE_MAX and m.group(2) == "OK", m.group(0)
    # The same through systemd-analyze's own threshold (tenths).
    r = analyze("security", "--offline=true", f"--threshold={round(EXPOSURE_MAX * 10)}", UNIT)
    assert r.returncode == 0, r.stdout[-400:] + r.stderr
    # The settings that carry the claims of the README.
    with open(UNIT) as f:
        unit = f.read()
    for line in ("DynamicUser=yes", "User=tocsin", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=\n", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                 "ExecReload=/bin/kill -HUP $MAINPID",
                 "ExecStart=/usr/local/bin/tocsind -c /etc/tocsin/tocsin.yaml",
                 "EnvironmentFile=/etc/tocsin/tocsind.env"):
        assert line in unit, line


def test_the_unit_verifies(env):
    """systemd-analyze verify, with ExecStart pointing at this build's
    tocsind (verify wants the program to exist)."""
    tocsind = os.path.join(env.build, "dispatcher", "tocsind")
    with open(UNIT) as f:
        text = f.read().replace("/usr/local/bin/tocsind", tocsind)
    path = os.path.join(env.dir, "tocsind.service")
    with open(path, "w") as f:
        f.write(text)
    r = analyze("verify", path)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr


def test_tocsind_needs_no_root(env):
    """As nobody, without capabilities (bounding, inheritable, ambient) and
    with no_new_privs, as the unit runs it: it connects, delivers, reloads
    on SIGHUP, and exits 0 on SIGTERM."""
    # As root, become nobody with no capability at all; as anyone else
    # (already without privileges), only give up gaining any.
    user = 65534 if os.geteuid() == 0 else os.geteuid()
    os.chmod(env.dir, 0o755)  # the configuration and templates, readable
    env.start_redis(socket_perm="777")
    env.start_receiver()
    env.write_config(f'  g:\n    members:\n      - {{name: A, webhook: "{env.hook("a")}"}}\n')
    wrap = ["setpriv", "--no-new-privs"]
    if os.geteuid() == 0:
        wrap += [f"--reuid={user}", f"--regid={user}", "--clear-groups",
                 "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
    p = env.start_tocsind(wrap=wrap)
    with open(f"/proc/{p.pid}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    assert status["Uid"].split() == [str(user)] * 4 and user != 0, status["Uid"]
    assert status["CapEff"] == status["CapPrm"] == "0" * 16, status
    if os.geteuid() == 0:
        assert status["CapBnd"] == "0" * 16, status["CapBnd"]
    assert status["NoNewPrivs"] == "1", status["NoNewPrivs"]
    env.xadd_job({"id": "UNPRIV", "template": "outage", "groups": ["g"]})
    rec = env.wait_done("UNPRIV")
    check_counts(rec)
    assert rec["delivered"] == "1", rec
    assert [g["path"] for g in env.received()] == ["/hooks/a"]
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "event=reloaded" in env.log(), 20, "the reload")
    assert env.stop(p) == 0, env.log()
