"""A small TCP fault proxy for tests: listens on 127.0.0.1, forwards each
connection to a target (a port on 127.0.0.1, or a unix socket's path), and
injects faults into the first `faults` connections: "cut" forwards the
request, then closes the client's connection before any response byte (the
peer got the request, the sender never hears back); "hang" accepts and
never answers. black_hole() makes every connection, from then on, drop what
its client sends (the target never sees it) while answers still flow back.
It also counts the client connections open at once (max_open). Runs on
threads; stop() closes everything."""

import socket
import threading


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
        self.open = 0          # client connections open now
        self.max_open = 0      # the most at once
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
            threading.Thread(target=self._serve, args=(c, fault), daemon=True).start()

    def _serve(self, c, fault):
        with self.lock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        try:
            self._serve_one(c, fault)
        finally:
            with self.lock:
                self.open -= 1

    def _serve_one(self, c, fault):
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
