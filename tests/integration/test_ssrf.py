"""Where webhooks may go (DESIGN.md, Webhooks): the allow list judged on
the address actually connected to, every spelling of loopback refused by
`public`, ports, names that resolve to several addresses, no proxy from
the environment, the configured proxy asked to CONNECT only to a checked
address, no redirects (TLS peers: test_tls.py). Each refusal is shown by a
listener that counts the connections it accepts: 0."""

from certs import self_signed, server_context
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
    env.start_redis()
    proxy = own(env, ConnectProxy())
    trap = own(env, Listener())
    lis = own(env, Listener())
    other = own(env, Listener())
    p = lis.port
    tls = own(env, Listener(tls=server_context(*self_signed(env.dir, "selfsigned"))))
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
