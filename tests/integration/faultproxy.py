"""A small TCP fault proxy for tests: listens on 127.0.0.1, forwards each
connection to a target (a port on 127.0.0.1, or a unix socket's path), and
injects faults into the first `faults` connections: "cut" forwards the
request, then closes the client's connection before any response byte (the
peer got the request, the sender never hears back); "hang" accepts and
never answers. black_hole() makes every connection, from then on, drop what
its client sends (the target never sees it) while answers still flow back.
It also records the most client connections open at once (max_open). Runs
on threads; stop() closes everything."""

import socket
import threading

# A connection's states, on the proxy's side, while its client has not
# closed its end (<netinet/tcp.h>): ESTABLISHED, and FIN_WAIT1 and 2 (the
# proxy shut its side down, the client has yet to).
_CLIENT_OPEN = (1, 4, 5)


def _client_open(c):
    """Whether the client of accepted connection c still holds it open, as
    the kernel knows it: its FIN or reset may not have been read yet."""
    try:
        return c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] in _CLIENT_OPEN
    except OSError:
        return False  # closed here


class FaultProxy:
    def __init__(self, target, mode="cut", faults=1):
        self.target = target
        self.mode = mode
        self.faults = faults
        self.seen = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.clients = []      # accepted connections their clients may hold
        self.max_open = 0      # the most client connections open at once
        self.stopped = False
        self.dropping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.seen += 1
                fault = self.seen <= self.faults
                self.conns.append(c)
                self._count_open(c)
            threading.Thread(target=self._serve, args=(c, fault), daemon=True).start()

    def _count_open(self, c):
        """max_open, as client connection c is accepted. Counted from the
        kernel's state of each connection, not from what the serving
        threads have noticed: a client that closes a connection and then
        opens another has closed the first before the second exists, but a
        busy machine may run the thread that reads the first's end only
        after this one accepted the second. A connection closed before it
        was accepted is not counted: the count can miss a peak, never make
        one up."""
        self.clients = [x for x in self.clients + [c] if _client_open(x)]
        self.max_open = max(self.max_open, len(self.clients))

    def _serve(self, c, fault):
        if fault and self.mode == "hang":
            while not self.stopped:  # keep it open, say nothing
                threading.Event().wait(0.2)
            return
        try:
            if isinstance(self.target, str):
                up = socket.socket(socket.AF_UNIX)
                up.connect(self.target)
            else:
                up = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            c.close()
            return
        with self.lock:
            self.conns.append(up)
        if fault and self.mode == "cut":
            data = self._read_request(c)
            up.sendall(data)
            up.recv(65536)  # the peer answered: drop it and cut the sender
            c.shutdown(socket.SHUT_RDWR)
            c.close()
            up.close()
            return
        t = threading.Thread(target=self._pipe, args=(up, c), daemon=True)
        t.start()
        self._pipe(c, up, self)
        t.join()

    def black_hole(self):
        self.dropping = True

    @staticmethod
    def _read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            chunk = c.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    @staticmethod
    def _pipe(a, b, dropper=None):
        """Copies a to b; drops the bytes instead once dropper.dropping."""
        try:
            while True:
                chunk = a.recv(65536)
                if not chunk:
                    break
                if not (dropper and dropper.dropping):
                    b.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
