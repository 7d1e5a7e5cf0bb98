"""Where webhooks may go (DESIGN.md, Webhooks): the allow list judged on
the address actually connected to, every spelling of loopback refused by
`public`, ports, names that resolve to several addresses, no proxy from
the environment, the configured proxy asked to CONNECT only to a checked
address, no redirects, no unverified TLS. Each refusal is shown by a
listener that counts the connections it accepts: 0."""

import os
import subprocess

from harness import check_counts
from listeners import ConnectProxy, Listener


def own(env, peer):
    """Stops peer (a listener or proxy on this process's threads) when env
    closes, also when the test failed."""
    close = env.close

    def closing(keep=False):
        peer.stop()
        close(keep)
    env.close = closing
    return peer


def members(urls):
    """A group "g" with one member per (name, url)."""
    lines = "".join(f'      - {{name: {n}, webhook: "{u}"}}\n' for n, u in urls)
    return f"  g:\n    members:\n{lines}"


def configure(env, urls, allow, proxy=None, **kw):
    env.write_config(members(urls), allow=allow, **kw)
    if proxy:
        with open(env.config) as f:
            text = f.read()
        text = text.replace("    allow:", f"    proxy: {proxy}\n    allow:", 1)
        with open(env.config, "w") as f:
            f.write(text)


def run_job(env, job_id):
    """Sends job_id to group g; its deliveries by member name, once done."""
    env.xadd_job({"id": job_id, "template": "outage", "groups": ["g"]})
    rec = env.wait_done(job_id)
    check_counts(rec)
    return {d["member"]: d for d in env.deliveries(job_id).values()}


def assert_refused(d):
    assert d["state"] == "failed", d
    assert "not in channels.webhook.allow" in d["last_outcome"], d
    assert d["provider"] == "", d


def test_public_refuses_loopback_in_every_spelling(env):
    env.start_redis()
    lis = own(env, Listener(v6=True))
    p = lis.port
    urls = [
        ("Decimal", f"http://2130706433:{p}/"),
        ("Hex", f"http://0x7f.1:{p}/"),
        ("HexWhole", f"http://0x7f000001:{p}/"),
        ("Octal", f"http://0177.0.0.1:{p}/"),
        ("Short", f"http://127.1:{p}/"),
        ("Mapped", f"http://[::ffff:127.0.0.1]:{p}/"),
        ("MappedHex", f"http://[::ffff:7f00:1]:{p}/"),
        ("Compatible", f"http://[::127.0.0.1]:{p}/"),
        ("Nat64", f"http://[64:ff9b::7f00:1]:{p}/"),
        ("V6Loopback", f"http://[::1]:{p}/"),
        ("Unspecified", f"http://0:{p}/"),
        ("Name", f"http://localhost:{p}/"),
        ("OtherName", f"http://vm:{p}/"),
    ]
    configure(env, urls, allow=("public",))
    env.start_tocsind()
    by = run_job(env, "SPELL")
    for name, _ in urls:
        assert_refused(by[name])
    # The name was judged by what it resolved to, with the address named.
    assert f"localhost (127.0.0.1:{p}" in by["Name"]["last_outcome"], by["Name"]
    assert by["Name"]["attempts"] == 1, by["Name"]
    assert lis.count() == 0, lis.accepted


def test_a_port_outside_the_entry_is_refused(env):
    env.start_redis()
    lis = own(env, Listener())
    other = lis.port + 1 if lis.port < 65535 else lis.port - 1
    urls = [("Literal", f"http://127.0.0.1:{lis.port}/"),
            ("Name", f"http://localhost:{lis.port}/")]
    configure(env, urls, allow=(f"127.0.0.1:{other}", f"localhost:{other}"))
    env.start_tocsind()
    by = run_job(env, "PORTS")
    assert_refused(by["Literal"])
    assert_refused(by["Name"])
    assert lis.count() == 0, lis.accepted


def test_allowed_destinations_are_delivered_and_name_who_answered(env):
    env.start_redis()
    lis = own(env, Listener())
    p = lis.port
    urls = [("Literal", f"http://127.0.0.1:{p}/a"), ("Name", f"http://localhost:{p}/b")]
    configure(env, urls, allow=(f"127.0.0.1:{p}", f"localhost:{p}"))
    env.start_tocsind()
    by = run_job(env, "OK")
    for name in ("Literal", "Name"):
        d = by[name]
        assert d["state"] == "delivered" and d["last_outcome"] == "http 204", d
        assert d["provider"] == f"127.0.0.1:{p}", d
    assert sorted(r[1] for r in lis.requests) == ["/a", "/b"], lis.requests


def test_a_refused_address_does_not_stick_when_the_next_one_connects(env):
    """localhost is 127.0.0.1 and ::1 to libcurl (it tries 127.0.0.1
    first): with only ::1 allowed, the first address is refused, the second
    connects, and the delivery is delivered, from ::1."""
    env.start_redis()
    lis = own(env, Listener(v6=True))
    p = lis.port
    configure(env, [("Both", f"http://localhost:{p}/both")], allow=(f'"[::1]:{p}"',))
    env.start_tocsind()
    d = run_job(env, "BOTH")["Both"]
    assert d["state"] == "delivered" and d["last_outcome"] == "http 204", d
    assert d["provider"] == f"[::1]:{p}", d
    assert lis.count("127.0.0.1") == 0 and lis.count("::1") >= 1, lis.accepted


def test_every_address_refused_but_one_that_is_down_is_worth_a_retry(env):
    """127.0.0.1 refused, ::1 allowed but nobody listens there: not the
    allow list's refusal (a permanent failure) but a failed connection,
    retried, the refusal named beside it."""
    env.start_redis()
    lis = own(env, Listener())
    p = lis.port
    configure(env, [("Down", f"http://localhost:{p}/")], allow=(f'"[::1]:{p}"',))
    env.start_tocsind()
    d = run_job(env, "DOWN")["Down"]
    assert d["state"] == "failed" and d["attempts"] == 3, d
    assert f"refused 127.0.0.1:{p}: not in channels.webhook.allow" in d["last_outcome"], d
    assert lis.count() == 0, lis.accepted


def test_redirects_are_not_followed(env):
    env.start_redis()
    target = own(env, Listener())
    lis = own(env, Listener(status=307, headers=[
        ("location", f"http://127.0.0.1:{target.port}/elsewhere")]))
    configure(env, [("Moved", f"http://127.0.0.1:{lis.port}/")], allow=("127.0.0.0/8",))
    env.start_tocsind()
    d = run_job(env, "MOVED")["Moved"]
    assert d["state"] == "failed" and d["last_outcome"] == "http 307", d
    assert d["provider"] == f"127.0.0.1:{lis.port}", d
    assert lis.count() == 1 and target.count() == 0, (lis.accepted, target.accepted)


def proxy_env(env, url, **extra):
    """Makes tocsind start with every proxy variable set to url."""
    base = env.env
    names = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
             "ALL_PROXY")
    env.env = lambda: dict(base(), **{n: url for n in names}, **extra)


def test_proxies_from_the_environment_are_ignored(env):
    env.start_redis()
    trap = own(env, Listener())
    lis = own(env, Listener())
    p = lis.port
    other = own(env, Listener())
    proxy_env(env, f"http://127.0.0.1:{trap.port}")
    urls = [("Allowed", f"http://localhost:{p}/ok"),
            ("Refused", f"http://vm:{other.port}/no"),
            ("Unresolvable", f"http://no-such-host.invalid:{p}/no")]
    configure(env, urls, allow=(f"127.0.0.1:{p}",))
    env.start_tocsind()
    by = run_job(env, "ENVPROXY")
    assert by["Allowed"]["state"] == "delivered", by["Allowed"]
    assert_refused(by["Refused"])
    assert by["Unresolvable"]["state"] == "failed", by["Unresolvable"]
    assert trap.count() == 0, "a proxy from the environment was used"
    assert other.count() == 0 and lis.count() == 1, (other.accepted, lis.accepted)


def test_the_configured_proxy_connects_only_to_checked_addresses(env):
    """tocsind resolves the name itself, checks the address, and asks the
    proxy to CONNECT to that address, never to the name: a name the proxy
    would resolve otherwise, or that tocsind cannot resolve, or one whose
    address is refused, never reaches the proxy. no_proxy does not turn
    the configured proxy off, and the environment's proxies stay unused."""
    import ssl
    env.start_redis()
    proxy = own(env, ConnectProxy())
    trap = own(env, Listener())
    lis = own(env, Listener())
    other = own(env, Listener())
    p = lis.port
    cert, key = make_certs(env)["selfsigned"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls = own(env, Listener(tls=ctx))
    proxy_env(env, f"http://127.0.0.1:{trap.port}", no_proxy="*", NO_PROXY="*")
    urls = [("Name", f"http://localhost:{p}/name"),
            ("Literal", f"http://127.0.0.1:{p}/literal"),
            ("Tls", f"https://localhost:{tls.port}/tls"),
            ("RefusedName", f"http://vm:{other.port}/no"),
            ("RefusedLiteral", f"http://127.0.0.2:{p}/no"),
            ("Unresolvable", f"http://no-such-host.invalid:{p}/no")]
    configure(env, urls, allow=(f"127.0.0.1:{p}", f"127.0.0.1:{tls.port}"),
              proxy=proxy.url)
    env.start_tocsind()
    by = run_job(env, "PROXY")
    for name in ("Name", "Literal"):
        d = by[name]
        assert d["state"] == "delivered" and d["last_outcome"] == "http 204", d
        assert d["provider"] == f"127.0.0.1:{p}", d
    assert_refused(by["RefusedName"])
    assert_refused(by["RefusedLiteral"])
    d = by["Unresolvable"]
    assert d["state"] == "failed" and "Could not resolve host" in d["last_outcome"], d
    # Through the tunnel to a checked address, TLS still names the URL's
    # host (and verifies it: nothing trusts this certificate).
    d = by["Tls"]
    assert d["state"] == "failed" and "certificate" in d["last_outcome"], d
    assert tls.sni and set(tls.sni) == {"localhost"} and tls.requests == [], tls.sni
    # Only CONNECTs, each to the checked address.
    assert proxy.lines and all(ln.startswith("CONNECT ") for ln in proxy.lines), proxy.lines
    assert set(proxy.targets) == {f"127.0.0.1:{p}", f"127.0.0.1:{tls.port}"}, proxy.targets
    # The tunnelled request still names the host of its URL.
    assert sorted((r[1], r[2]) for r in lis.requests) == [
        ("/literal", f"127.0.0.1:{p}"), ("/name", f"localhost:{p}")], lis.requests
    assert other.count() == 0 and trap.count() == 0, (other.accepted, trap.accepted)


def test_through_the_proxy_public_refuses_loopback_before_any_connect(env):
    env.start_redis()
    proxy = own(env, ConnectProxy())
    lis = own(env, Listener())
    p = lis.port
    urls = [("Name", f"http://localhost:{p}/"), ("Literal", f"http://127.0.0.1:{p}/"),
            ("Decimal", f"http://2130706433:{p}/"),
            ("Mapped", f"http://[::ffff:127.0.0.1]:{p}/")]
    configure(env, urls, allow=("public",), proxy=proxy.url)
    env.start_tocsind()
    by = run_job(env, "PROXYPUBLIC")
    for name, _ in urls:
        assert_refused(by[name])
    assert proxy.connections == 0 and lis.count() == 0, (proxy.lines, lis.accepted)


def make_certs(env):
    """A self-signed certificate for localhost, an expired one, and one
    for another name, with their keys, made with openssl in env's folder.
    Returns {kind: (certfile, keyfile)}."""
    out = {}
    specs = {"selfsigned": ("localhost", "-days", "30"),
             "wronghost": ("wrong.example", "-days", "30")}
    for kind, (cn, *days) in specs.items():
        cert, key = (os.path.join(env.dir, f"{kind}.{x}") for x in ("crt", "key"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-subj", f"/CN={cn}",
                        "-addext", f"subjectAltName=DNS:{cn}", *days],
                       check=True, capture_output=True)
        out[kind] = (cert, key)
    # Expired: valid for a day, ten days ago (openssl x509 -not_before needs
    # 3.4; a CA signature with explicit dates works with 3.0).
    cert, key = (os.path.join(env.dir, f"expired.{x}") for x in ("crt", "key"))
    csr = os.path.join(env.dir, "expired.csr")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=localhost"], check=True, capture_output=True)
    ca_dir = os.path.join(env.dir, "ca")
    os.makedirs(os.path.join(ca_dir, "new"))
    open(os.path.join(ca_dir, "index.txt"), "w").close()
    conf = os.path.join(ca_dir, "ca.cnf")
    with open(conf, "w") as f:
        f.write(f"""[ca]
default_ca = expired_ca
[expired_ca]
dir = {ca_dir}
database = {ca_dir}/index.txt
new_certs_dir = {ca_dir}/new
serial = {ca_dir}/serial
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
subjectAltName = DNS:localhost
""")
    with open(os.path.join(ca_dir, "serial"), "w") as f:
        f.write("01\n")
    subprocess.run(["openssl", "ca", "-batch", "-config", conf, "-selfsign", "-keyfile", key,
                    "-in", csr, "-out", cert, "-startdate", "20200101000000Z",
                    "-enddate", "20200102000000Z"], check=True, capture_output=True)
    out["expired"] = (cert, key)
    return out


def test_tls_peers_that_cannot_be_verified_get_nothing(env):
    import ssl
    env.start_redis()
    certs = make_certs(env)
    lis = {}
    for kind, (cert, key) in certs.items():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        lis[kind] = own(env, Listener(tls=ctx))
    urls = [(kind, f"https://localhost:{lis[kind].port}/") for kind in certs]
    configure(env, urls, allow=("127.0.0.1/32",))
    env.start_tocsind()
    by = run_job(env, "TLS")
    for kind in certs:
        d = by[kind]
        assert d["state"] == "failed" and d["attempts"] == 3, d
        assert "certificate" in d["last_outcome"], d
        assert lis[kind].requests == [], (kind, lis[kind].requests)
        assert lis[kind].count() >= 1, "the TLS peer was not even tried"
