"""Loopback peers for the destination tests (test_ssrf.py), on threads of
the test's own process; stop() closes everything.

Listener: an HTTP/1.1 server on one port of 127.0.0.1 and, when asked,
the same port of ::1. It counts every connection it accepts, by the local
address that accepted it, before reading a byte: where the allow list
refuses, the count must stay 0. Each request is kept (method, path, Host,
the address that took it). It answers `status` (204 by default) with any
extra `headers`; with `tls`, an ssl.SSLContext, it speaks HTTPS, keeps
the name each client asked for (SNI) and counts handshakes that failed
apart.

ConnectProxy: an HTTP proxy on 127.0.0.1 that logs the first line of
every request it gets (so `targets` holds each CONNECT's "host:port"),
tunnels CONNECT to that address and refuses anything else with 403. It
never resolves a name: a CONNECT to one is refused too (and logged), as
tocsind must only ever ask for an address it checked.
"""

import socket
import ssl
import threading


def _read_head(f):
    """The request line and headers (lower-case names) from file f, or
    None at end of stream."""
    line = f.readline(65536)
    if not line:
        return None
    head = {}
    while True:
        h = f.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        head[name.strip().lower()] = value.strip()
    return line.decode("latin-1").rstrip("\r\n"), head


def _split_target(target):
    """("127.0.0.1", 80) from "127.0.0.1:80", ("::1", 80) from "[::1]:80"."""
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


class Listener:
    def __init__(self, v6=False, status=204, headers=(), tls=None):
        self.status = status
        self.headers = list(headers)
        self.tls = tls
        self.lock = threading.Lock()
        self.accepted = []     # local address of each connection accepted
        self.requests = []     # (method, path, host header, local address)
        self.tls_failures = []
        self.sni = []          # the server name of each TLS client hello
        if tls:
            tls.sni_callback = lambda sock, name, ctx: self._note_sni(name)
        self.stopped = False
        self.conns = []
        self.socks = [self._bind(socket.AF_INET, "127.0.0.1", 0)]
        self.port = self.socks[0].getsockname()[1]
        if v6:
            self.socks.append(self._bind(socket.AF_INET6, "::1", self.port))
        for s in self.socks:
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    @staticmethod
    def _bind(family, addr, port):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        s.listen(64)
        return s

    def _note_sni(self, name):
        with self.lock:
            self.sni.append(name)

    def count(self, addr=None):
        """Connections accepted, in all or on local address addr."""
        with self.lock:
            return sum(1 for a in self.accepted if addr is None or a == addr)

    def _accept(self, s):
        while not self.stopped:
            try:
                c, _ = s.accept()
            except OSError:
                return
            local = c.getsockname()[0]
            with self.lock:
                self.accepted.append(local)
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c, local), daemon=True).start()

    def _serve(self, c, local):
        try:
            if self.tls:
                try:
                    c = self.tls.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self.lock:
                        self.tls_failures.append(str(e))
                    return
            f = c.makefile("rb")
            while not self.stopped:
                got = _read_head(f)
                if not got:
                    return
                line, head = got
                n = int(head.get("content-length", "0"))
                if n:
                    f.read(n)
                method, path = line.split(" ")[:2]
                with self.lock:
                    self.requests.append((method, path, head.get("host"), local))
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers)
                c.sendall(f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\n{extra}\r\n"
                          .encode())
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped = True
        for s in self.socks:
            s.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()


class ConnectProxy:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0   # accepted, whatever they asked
        self.lines = []        # the first line of every request
        self.stopped = False
        self.conns = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def targets(self):
        """The "host:port" of every CONNECT so far."""
        with self.lock:
            return [ln.split(" ")[1] for ln in self.lines if ln.startswith("CONNECT ")]

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        up = None
        try:
            f = c.makefile("rb")
            got = _read_head(f)
            if not got:
                return
            line, _ = got
            with self.lock:
                self.lines.append(line)
            parts = line.split(" ")
            host, port = (None, 0)
            if parts[0] == "CONNECT" and len(parts) == 3:
                host, port = _split_target(parts[1])
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in (host or "") else socket.AF_INET,
                                 host or "")
            except OSError:
                c.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                return
            up = socket.create_connection((host, port), timeout=5)
            up.settimeout(None)
            with self.lock:
                self.conns.append(up)
            # The client waits for this answer before it sends more, so
            # nothing it sent is left in f's buffer.
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = threading.Thread(target=self._pipe, args=(up, c), daemon=True)
            t.start()
            self._pipe(c, up)
            t.join()
        except OSError:
            pass
        finally:
            c.close()
            if up:
                up.close()

    def _pipe(self, src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self.stopped = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
