"""SMS peers for the integration tests: the gateway simulator
(tests/peers/smsgw.js) and Prism serving a provider's OpenAPI description,
each on loopback, stopped by PID through the Env; and the configuration's
channels.sms section."""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request

from harness import PEERS, ROOT, GrowingFile, wait_for

CONFORMANCE = os.path.join(os.path.dirname(ROOT), "shared", "conformance")
PRISM = os.path.join(PEERS, "node_modules", ".bin", "prism")


class Gateway:
    """One gateway simulator: its port, its request log, its mode."""

    def __init__(self, env, name, mode="ok"):
        self.env = env
        self.name = name
        self.log = os.path.join(env.dir, f"gw-{name}.jsonl")
        self.mode_file = os.path.join(env.dir, f"gw-{name}.mode")
        self._file = GrowingFile(self.log)
        self._got = []
        self.set_mode(mode)
        argv = ["node", os.path.join(PEERS, "smsgw.js"), "--port", "0", "--log", self.log,
                "--mode-file", self.mode_file]
        p = env.spawn(argv, f"gw-{name}.out", stdout=subprocess.PIPE)
        line = p.stdout.readline().decode().strip()
        assert line.startswith("port="), f"smsgw said {line!r}"
        self.port = int(line[5:])
        self.url = f"http://127.0.0.1:{self.port}/send"

    def set_mode(self, mode):
        """What the gateway answers from now on; the file is replaced whole."""
        tmp = self.mode_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(mode)
        os.replace(tmp, self.mode_file)

    def requests(self):
        """Every request logged so far (a request is logged before it is
        answered), oldest first."""
        lines = self._file.read()
        self._got.extend(json.loads(line) for line in lines[len(self._got):])
        return list(self._got)


def free_port():
    """A port free now on 127.0.0.1, for a server that cannot pick its own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url):
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True  # any HTTP answer: it is up
    except OSError:
        return False
    return True


def start_prism(env, spec):
    """Prism mocking spec (a path under ../shared/conformance) on a free
    loopback port, validating requests. Returns its base URL once it
    answers; its startup is slow on a loaded machine."""
    port = free_port()
    argv = [PRISM, "mock", "-h", "127.0.0.1", "-p", str(port), os.path.join(CONFORMANCE, spec)]
    p = env.spawn(argv, f"prism-{port}.log")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: p.poll() is not None or _answers(base + "/"), 120, "prism to answer")
    assert p.poll() is None, open(os.path.join(env.dir, f"prism-{port}.log")).read()
    return base


def gateway_provider(name, gw, rate=None, extra=""):
    """A generic gateway provider (kind http) on the simulator gw."""
    text = f"""      - name: {name}
        kind: http
        url: {gw.url}
        content_type: json
        body: '{{"to": "{{{{to}}}}", "text": "{{{{text}}}}"}}'
        success: {{status: [200], pointer: /ok, equals: true}}
        message_id: /id
"""
    if rate:
        text += f"        rate: {rate}\n"
    return text + extra


def add_sms(env, providers, max_segments=3, breaker="{failures: 5, cooldown: 30s}",
            retry="{attempts: 4, base: 50ms, max: 200ms}", extra="", top=""):
    """Adds channels.sms (providers: their YAML list items) to the
    configuration env.write_config wrote; top: top-level keys."""
    sms = f"""  sms:
    max_segments: {max_segments}
    default_region: US
    allow: [127.0.0.0/8]
    breaker: {breaker}
    connect_timeout: 2s
    timeout: 2s
    retry: {retry}
{extra}    providers:
{providers}"""
    text = open(env.config).read().replace("groups:\n", sms + "groups:\n", 1)
    text = text.replace("templates: templates/\n", "templates: templates/\n" + top, 1)
    with open(env.config, "w") as f:
        f.write(text)


def sms_template(env, text="Outage of {{service}} for {{member.name}}"):
    with open(os.path.join(env.dir, "templates", "outage", "sms.txt"), "w") as f:
        f.write(text)


def phones(n, start=100):
    """n possible US mobile-range numbers: +1 415 555 0100, ..."""
    return [f"+1415555{start + i:04d}" for i in range(n)]


def members(nums, channels="[sms]"):
    return "".join(f'      - {{name: M{i}, phone: "{p}", channels: {channels}}}\n'
                   for i, p in enumerate(nums))


def twilio_signature(url, fields, token):
    """X-Twilio-Signature as Twilio documents it: base64 HMAC-SHA1 keyed
    with the auth token over the URL and each field's name and value,
    sorted by name."""
    data = url + "".join(k + v for k, v in sorted(fields.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_status(sid, state, account, sender, code=None):
    """The form Twilio posts to a StatusCallback: message sid's state
    (ErrorCode code, if given), of account, sent from sender."""
    f = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": state, "SmsStatus": state,
         "AccountSid": account, "From": sender, "ApiVersion": "2010-04-01"}
    if code:
        f["ErrorCode"] = code
    return f
