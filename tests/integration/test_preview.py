"""tocsin preview: every part a group would receive, rendered as tocsind
would send it, with no Redis at all (none is started: the configured socket
does not exist)."""

import email
import email.policy
import json
import os

from harness import delivery_id, envelope

SECRET_REF = "${TOCSIN_WEBHOOK_SECRET}"


def write(env, rel, text):
    path = os.path.join(env.dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def config(env, max_segments=2, overflow="truncate", groups=None):
    """Every channel configured; secrets are unset references (the CLI's mode
    leaves them out)."""
    groups = groups or """  oncall:
    members:
      - {name: Ada Lovelace, role: Incident commander, email: ada@example.org,
         phone: "+44 7911 123450", webhook: "http://127.0.0.1:9/ada"}
      - {name: Grace Hopper, role: Engineer, email: grace@example.org, channels: [email]}
  executives:
    members:
      - {name: Katherine Johnson, role: CEO, email: kj@example.org, phone: "+44 7911 123451",
         channels: [email, sms]}
  customers:
    roster: customers.csv
"""
    text = f"""redis:
  url: unix://{env.redis_sock}
templates: templates/
channels:
  webhook:
    secret: {SECRET_REF}
    allow: [127.0.0.0/8]
  email:
    server: smtp.example.org:587
    from: "Incident desk <incidents@example.org>"
    password: ${{TOCSIN_SMTP_PASSWORD_UNSET}}
  sms:
    max_segments: {max_segments}
    overflow: {overflow}
    providers:
      - name: main
        kind: twilio
        base_url: https://api.twilio.com
        account_sid: AC123
        auth_token: ${{TWILIO_AUTH_TOKEN_UNSET}}
        from: "+15550100000"
groups:
{groups}"""
    with open(env.config, "w") as f:
        f.write(text)
    write(env, "customers.csv",
          "name,role,email,phone,webhook,channels\n"
          "Acme Corporation,Customer,ops@acme.example.com,,,email\n"
          "\"Globex, Inc.\",Customer,noc@globex.example.com,+1 555 010 2002,,\n")


def templates(env):
    write(env, "templates/partials/footer.mustache", "-- sent to {{member.name}} ({{group}}), job {{job.id}}\n")
    write(env, "templates/outage/email.subject", "{{#incident}}[{{incident}}] {{/incident}}Outage: {{service}}\n")
    write(env, "templates/outage/email.txt", "Hello {{member.name}},\n\n{{service}}: {{summary}}\n\n{{> footer}}")
    write(env, "templates/outage/email.html", "<p>{{service}}: {{summary}}</p>\n<p>{{> footer}}</p>\n")
    write(env, "templates/outage/sms.txt", "[{{severity}}] {{service}} DOWN. {{summary}}\n")
    write(env, "templates/outage/webhook.json",
          '{"text": "{{service}}: {{summary}}", "who": "{{member.name}}", "sev": "{{severity}}"}\n')
    write(env, "templates/outage/executives/email.subject", "Executive brief: {{service}}\n")
    write(env, "templates/outage/customers/sms.txt", "Example Corp: {{service}} is disrupted.\n")


def preview(env, *args):
    return env.cli("preview", *args)


def test_preview_renders_every_part_as_sent_without_redis(env):
    config(env)
    templates(env)
    assert not os.path.exists(env.redis_sock)
    r = preview(env, "--template", "outage", "--group", "oncall", "--var", "service=payments",
                "--var", "summary=Card payments fail", "--var", "incident_note=x")
    assert r.returncode == 0, r.stderr
    # After the parts, the whole email as tocsind hands it to libesmtp.
    mark = "\n--- message (email: RFC 5322, exactly as handed to libesmtp; lines end in CRLF)\n"
    parts, message = r.stdout.split(mark)
    m = email.message_from_string(message, policy=email.policy.default)
    assert str(m["To"]) == "Ada Lovelace <ada@example.org>", m["To"]
    assert str(m["Subject"]) == "Outage: payments"
    assert "payments: Card payments fail" in m.get_body(("plain",)).get_content()
    assert parts == """template outage, group oncall, member Ada Lovelace (Incident commander)

--- email.subject (email) from outage/email.subject
Outage: payments

--- email.txt (email) from outage/email.txt
Hello Ada Lovelace,

payments: Card payments fail

-- sent to Ada Lovelace (oncall), job preview

--- email.html (email) from outage/email.html
<p>payments: Card payments fail</p>
<p>-- sent to Ada Lovelace (oncall), job preview
</p>

--- sms.txt (sms: GSM-7, 44 septets, 1 segment) from outage/sms.txt
[normal] payments DOWN. Card payments fail

--- webhook.json (webhook) from outage/webhook.json
{"text": "payments: Card payments fail", "who": "Ada Lovelace", "sev": "normal"}
""", r.stdout
    assert r.stderr == ""


def test_preview_json_with_hostile_values(env):
    config(env)
    templates(env)
    hostile = 'He said "stop" \\ </script><b>x</b>\nline two \u00e9\U0001F600'
    r = preview(env, "--template", "outage", "--group", "oncall", "--json",
                "--var", "service=pay\r\nments", "--var", "summary=" + hostile)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["template"] == "outage" and out["group"] == "oncall"
    assert out["member"] == "Ada Lovelace"
    parts = {p["part"]: p for p in out["parts"]}
    assert [p["part"] for p in out["parts"]] == [
        "email.subject", "email.txt", "email.html", "sms.txt", "webhook.json"]
    assert parts["email.subject"]["text"] == "Outage: pay ments"
    # The whole email: the CR LF of a var ends no header and starts none.
    m = email.message_from_string(out["message"], policy=email.policy.default)
    assert "\r" not in str(m["Subject"]) and "\n" not in str(m["Subject"])
    assert str(m["Subject"]).startswith("Outage: pay") and str(m["Subject"]).endswith("ments")
    assert not [k for k in m.keys() if k.lower().startswith("ments")], m.keys()
    assert hostile in m.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert parts["email.subject"]["channel"] == "email"
    body = json.loads(parts["webhook.json"]["text"])
    assert body["text"] == "pay\r\nments: " + hostile
    assert "</script>" not in parts["webhook.json"]["text"]
    assert "</script>" not in parts["email.html"]["text"]
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in parts["email.html"]["text"]
    assert "&quot;stop&quot;" in parts["email.html"]["text"]
    assert hostile in parts["email.txt"]["text"]
    sms = parts["sms.txt"]
    # 73 UTF-16 units (the emoji takes 2): two segments, as sent
    assert sms["text"] == "[normal] pay\r\nments DOWN. " + hostile
    assert sms["encoding"] == "UCS-2" and sms["chars"] == 73 and sms["segments"] == 2
    assert sms["channel"] == "sms" and sms["truncated"] is False
    assert parts["webhook.json"]["encoding"] is None and parts["webhook.json"]["segments"] is None


def test_preview_group_override_member_and_channels(env):
    config(env)
    templates(env)
    # executives use email and sms only; their subject is overridden
    r = preview(env, "--template", "outage", "--group", "executives", "--json",
                "--var", "service=payments", "--var", "summary=down")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["member"] == "Katherine Johnson"
    assert [(p["part"], p["file"]) for p in out["parts"]] == [
        ("email.subject", "outage/executives/email.subject"),
        ("email.txt", "outage/email.txt"),
        ("email.html", "outage/email.html"),
        ("sms.txt", "outage/sms.txt")]
    assert out["parts"][0]["text"] == "Executive brief: payments"
    # --member, --channel
    r = preview(env, "--template", "outage", "--group", "oncall", "--member", "Grace Hopper",
                "--channel", "webhook", "--var", "service=payments", "--var", "summary=down")
    assert r.returncode == 0, r.stderr
    assert "member Grace Hopper (Engineer)" in r.stdout
    assert '"who": "Grace Hopper"' in r.stdout
    assert "email.subject" not in r.stdout


def test_preview_roster_group(env):
    config(env)
    templates(env)
    r = preview(env, "--template", "outage", "--group", "customers", "--member", "Globex, Inc.",
                "--channel", "sms", "--var", "service=payments", "--var", "summary=down")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("template outage, group customers, member Globex, Inc. (Customer)\n")
    assert "from outage/customers/sms.txt\nExample Corp: payments is disrupted.\n" in r.stdout
    r = preview(env, "--template", "outage", "--group", "customers", "--json",
                "--var", "service=payments", "--var", "summary=down")
    out = json.loads(r.stdout)
    assert out["member"] == "Acme Corporation"
    # the rows use email (Acme, Globex) and sms (Globex): both shown
    assert {p["channel"] for p in out["parts"]} == {"email", "sms"}


def test_preview_job_file(env):
    config(env)
    templates(env)
    job = {"id": "INC-7-update", "template": "outage", "groups": ["someone-else"],
           "severity": "critical", "incident": "INC-7",
           "vars": {"service": "search", "summary": "old"}}
    write(env, "job.json", json.dumps(job))
    r = preview(env, "--job", "job.json", "--group", "oncall", "--channel", "email",
                "--var", "summary=new")
    assert r.returncode == 0, r.stderr
    assert "[INC-7] Outage: search\n" in r.stdout
    assert "search: new\n" in r.stdout
    assert "job INC-7-update" in r.stdout
    # the same from flags, as `tocsin send` takes them
    r = preview(env, "--template", "outage", "--group", "oncall", "--channel", "sms",
                "--severity", "high", "--incident", "INC-9", "--var", "service=search",
                "--var", "summary=s")
    assert r.returncode == 0, r.stderr
    assert "[high] search DOWN. s\n" in r.stdout
    r = preview(env, "--template", "outage", "--group", "oncall", "--channel", "email",
                "--incident", "INC-9", "--var", "service=search", "--var", "summary=s")
    assert "[INC-9] Outage: search\n" in r.stdout
    write(env, "bad-job.json", '{"template": "outage", "vars": {"member": "x"}}')
    r = preview(env, "--job", "bad-job.json", "--group", "oncall")
    assert r.returncode == 1
    assert "invalid job" in r.stderr and "reserved" in r.stderr, r.stderr


def test_preview_sms_truncated_or_refused(env):
    config(env, max_segments=1, overflow="truncate")
    templates(env)
    long = "Card payments fail everywhere. " * 10
    r = preview(env, "--template", "outage", "--group", "oncall", "--channel", "sms", "--json",
                "--var", "service=payments", "--var", "summary=" + long)
    assert r.returncode == 0, r.stderr
    sms = json.loads(r.stdout)["parts"][0]
    assert sms["segments"] == 1 and sms["truncated"] is True and sms["chars"] == 160
    assert sms["text"].endswith("...") and len(sms["text"]) == 158  # [ and ] take 2
    config(env, max_segments=1, overflow="reject")
    r = preview(env, "--template", "outage", "--group", "oncall", "--channel", "sms",
                "--var", "service=payments", "--var", "summary=" + long)
    assert r.returncode == 1
    assert ("outage/sms.txt: sms.txt renders to 3 segments, more than "
            "channels.sms.max_segments 1") in r.stderr, r.stderr


def test_preview_errors(env):
    config(env)
    templates(env)
    cases = [
        (["--template", "nope", "--group", "oncall"], 1, "unknown template 'nope'"),
        (["--template", "outage", "--group", "nobody"], 1, "unknown group 'nobody'"),
        (["--template", "outage", "--group", "oncall", "--member", "Bob"], 1,
         "group 'oncall' has no member 'Bob'"),
        (["--template", "outage"], 2, "needs --template (or --job) and --group"),
        (["--template", "outage", "--group", "oncall", "--var", "novalue"], 2,
         "expected name=value"),
        (["--template", "outage", "--group", "oncall", "--channel", "pager"], 2,
         "expected email, sms or webhook"),
        (["--template", "outage", "--group", "oncall", "--severity", "urgent"], 2,
         "expected critical, high, normal or low"),
        (["--template", "outage", "--group", "oncall", "--var", "ack_url=x"], 1,
         "reserved for the render data"),
    ]
    for args, code, msg in cases:
        r = preview(env, *args)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
    r = env.cli("preview", "--help", config=False)
    assert r.returncode == 0 and r.stdout.startswith("usage: tocsin [-c FILE] preview")


def test_preview_render_and_load_errors(env):
    config(env)
    templates(env)
    # a webhook body that does not parse: reported, exit 1, the rest shown
    write(env, "templates/outage/webhook.json", '{"raw": {{{raw}}}}\n')
    r = preview(env, "--template", "outage", "--group", "oncall", "--var", "service=p",
                "--var", "summary=s", "--var", "raw=[1,")
    assert r.returncode == 1
    assert "outage/webhook.json: webhook.json does not render to valid JSON" in r.stderr, r.stderr
    assert "--- email.txt (email)" in r.stdout
    # a template that does not compile, and an unknown partial: every error
    write(env, "templates/outage/email.txt", "Hello\n{{#open}}\n")
    write(env, "templates/outage/sms.txt", "{{> footr}}\n")
    r = preview(env, "--template", "outage", "--group", "oncall")
    assert r.returncode == 1
    tpl = os.path.realpath(os.path.join(env.dir, "templates"))
    assert f"{tpl}/outage/email.txt:2: unclosed section 'open' opened at line 2" in r.stderr, r.stderr
    assert f"{tpl}/outage/sms.txt:1: unknown partial 'footr' (no partials/footr.mustache)" in r.stderr
    assert r.stdout == ""


def test_preview_missing_parts_with_the_harness_config(env):
    # the harness's configuration: webhook only, and the empty template
    # folders it makes
    env.write_config("""  oncall:
    members:
      - {name: Ada, webhook: "http://127.0.0.1:9/ada"}
""")
    r = preview(env, "--template", "outage", "--group", "oncall")
    assert r.returncode == 0, r.stderr
    # no webhook.json: the JSON envelope tocsind sends, built here independently
    body = envelope(delivery_id("preview", "webhook", "http://127.0.0.1:9/ada"), "preview",
                    "normal", "outage", "oncall", "Ada", None)
    assert r.stdout == f"""template outage, group oncall, member Ada

--- webhook.json (webhook: no webhook.json: tocsind sends its JSON envelope)
{body}
""", r.stdout
    # email needs email.subject and email.txt: preview says tocsind refuses it
    config(env)
    write(env, "templates/security/email.txt", "body\n")
    r = preview(env, "--template", "security", "--group", "oncall", "--channel", "email")
    assert r.returncode == 1
    assert "template: 'security' has no part 'email.subject' for channel 'email'" in r.stderr
    assert "--- email.subject (email)\n(missing: tocsind refuses the job)\n" in r.stdout
    assert "--- email.html (email)\n(no email.html: the email is plain text only)\n" in r.stdout


def test_preview_is_byte_for_byte_what_tocsind_sends(env):
    """preview composes with the channel's own code: the webhook body it
    shows is the body the receiver gets, the envelope included."""
    env.start_redis()
    env.start_receiver()
    env.write_config(f"""  oncall:
    members:
      - {{name: "Ada \\u00e9 <b>", role: On call, webhook: "{env.hook('ada')}"}}
""")
    # outage has no webhook.json (the envelope), security has one
    write(env, "templates/security/webhook.json",
          '{"text": "{{service}}: {{message}}", "who": "{{member.name}}"}\n')
    env.start_tocsind()
    vars_ = {"message": "Payments \"down\" </script>", "service": "pay\u2028ments"}
    for job_id, tpl in (("PV-ENV", "outage"), ("PV-TPL", "security")):
        job = {"id": job_id, "template": tpl, "groups": ["oncall"], "incident": "INC-9",
               "severity": "high", "vars": vars_}
        write(env, f"{job_id}.json", json.dumps(job))
        r = preview(env, "--job", os.path.join(env.dir, f"{job_id}.json"), "--group", "oncall",
                    "--json")
        assert r.returncode == 0, r.stderr
        shown = json.loads(r.stdout)["parts"][0]["text"]
        env.xadd_job(job, severity="high")
        env.wait_done(job_id)
        did = delivery_id(job_id, "webhook", env.hook("ada"))
        got = [g["body"] for g in env.received() if g["headers"]["webhook-id"] == did]
        assert got == [shown], (got, shown)
    # the envelope is DESIGN.md's, built here independently
    did = delivery_id("PV-ENV", "webhook", env.hook("ada"))
    body = [g["body"] for g in env.received() if g["headers"]["webhook-id"] == did][0]
    assert body == envelope(did, "PV-ENV", "high", "outage", "oncall", "Ada \u00e9 <b>",
                            "On call", "INC-9", vars_)
