#!/usr/bin/python3
"""Runs the integration tests: every test_* function of the test_*.py
modules here, each with a fresh Env (its own Redis, receiver and folder),
bounded in time. Prints TAP ("ok N - name" / "not ok N - name").

usage: run.py BUILD_DIR [NAME_SUBSTRING]
"""

import importlib
import os
import signal
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TEST_TIMEOUT = 180  # seconds, per test


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout(f"test took longer than {TEST_TIMEOUT}s")


def on_term(signum, frame):
    # Stopped from outside (timeout(1), a CI runner): end the test under
    # way as Ctrl-C would, so its Env stops every server it started.
    raise KeyboardInterrupt("terminated")


def main():
    build = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    here = os.path.dirname(os.path.abspath(__file__))
    tests = []
    for name in sorted(os.listdir(here)):
        if name.startswith("test_") and name.endswith(".py"):
            mod = importlib.import_module(name[:-3])
            for attr in sorted(vars(mod)):
                fn = getattr(mod, attr)
                if attr.startswith("test_") and callable(fn) and (only in attr or only in name):
                    tests.append((f"{name[5:-3]}: {attr[5:]}", fn))
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    failed = 0
    for n, (name, fn) in enumerate(tests, 1):
        env = harness.Env(build)
        ok = False
        signal.alarm(TEST_TIMEOUT)
        try:
            fn(env)
            ok = True
        except BaseException as e:  # noqa: B902 - report anything, go on
            if isinstance(e, KeyboardInterrupt):
                raise
            print(f"# {name}: {type(e).__name__}: {e}")
            for line in traceback.format_exc().splitlines()[-6:]:
                print(f"#   {line}")
            for line in env.log().splitlines()[-15:]:
                print(f"#   tocsind: {line}")
        finally:
            signal.alarm(0)
            env.close(keep=not ok and os.environ.get("TOCSIN_KEEP") == "1")
        if env.sanitizer:
            ok = False
            print(f"# {name}: a sanitizer reported:")
            for line in env.sanitizer[:10]:
                print(f"#   {line}")
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - {name}", flush=True)
    print(f"1..{len(tests)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
