"""The canary search of test_secrets.py: what would betray a secret
(Secret.forms), where to look (redis_dump, files_under), and the search."""

import base64
import os
import secrets
import string

import redis


def alnum(n):
    """n random letters and digits: no character any output escapes."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def webhook_key():
    """32 random bytes, none of them ASCII: the decoded whsec_ key, whose
    leak would show as bytes, \\xNN escapes, base64 or hex."""
    return bytes(0x80 + secrets.randbelow(0x80) for _ in range(32))


class Secret:
    def __init__(self, name, env, value, raw=None, wraps=()):
        self.name = name
        self.env = env          # the variable the configuration references, or None
        self.value = value      # the text a user wrote (str)
        self.raw = raw          # bytes it stands for (the webhook key), or None
        self.wraps = wraps      # (what, prefix): credentials sent as base64(prefix + value)

    def forms(self):
        """(form name, bytes) of everything that would betray it."""
        out = []
        for what, b in (("value", self.value.encode()), ("key", self.raw)):
            if b is None:
                continue
            out += [(f"{what} raw", b), (f"{what} prefix", b[:12]),
                    (f"{what} hex", b.hex().encode()), (f"{what} HEX", b.hex().upper().encode()),
                    (f"{what} escaped", "".join(f"\\x{c:02x}" for c in b).encode()),
                    (f"{what} ESCAPED", "".join(f"\\x{c:02X}" for c in b).encode())]
            for enc, name in ((base64.b64encode, "base64"), (base64.urlsafe_b64encode, "base64url")):
                e = enc(b)
                out += [(f"{what} {name}", e), (f"{what} {name} unpadded", e.rstrip(b"="))]
        for what, prefix in self.wraps:
            e = base64.b64encode(prefix + self.value.encode())
            out += [(what, e), (f"{what} unpadded", e.rstrip(b"="))]
        return out


def redis_dump(sock, password):
    """Every key and value of every type in the Redis on unix socket sock,
    as (where, bytes)."""
    r = redis.Redis(unix_socket_path=sock, password=password)
    out = []
    for key in r.scan_iter(count=1000):
        t = r.type(key).decode()
        out.append((f"key {key!r}", key))
        if t == "string":
            vals = [r.get(key)]
        elif t == "hash":
            vals = [x for kv in r.hgetall(key).items() for x in kv]
        elif t == "list":
            vals = r.lrange(key, 0, -1)
        elif t == "set":
            vals = list(r.smembers(key))
        elif t == "zset":
            vals = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif t == "stream":
            vals = [x for i, f in r.xrange(key) for x in (i, *[y for kv in f.items() for y in kv])]
        else:
            raise AssertionError(f"a key of type {t} nobody searches: {key!r}")
        out += [(f"{t} {key!r}", v) for v in vals if v is not None]
    return out


def files_under(folder, names):
    """(path, bytes) of the files called names (or in folders called so)."""
    out = []
    for name in names:
        path = os.path.join(folder, name)
        paths = ([os.path.join(path, f) for f in sorted(os.listdir(path))]
                 if os.path.isdir(path) else [path])
        for p in paths:
            with open(p, "rb") as f:
                out.append((p, f.read()))
    return out


def search(secrets, places):
    """Each (secret, form, place) where a form of a secret occurs."""
    hits = []
    for s in secrets:
        for form, needle in s.forms():
            for where, data in places:
                if needle in data:
                    at = data.index(needle)
                    hits.append(f"{s.name} ({form}) in {where}: "
                                f"{data[max(0, at - 60):at + len(needle) + 20]!r}")
    return hits
