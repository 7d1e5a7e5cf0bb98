"""Certificates for the TLS tests, made with openssl in a test's folder:
a certificate authority that issues certificates with any dates and
names (`openssl ca`, which takes explicit start and end dates on
OpenSSL 3.0), and self-signed certificates."""

import datetime
import os
import ssl
import subprocess


def _run(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def _stamp(days):
    """openssl's date form, days from now (negative: in the past)."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y%m%d%H%M%SZ")


class CA:
    """A certificate authority in folder/name: its key, its certificate
    (cert) and the bookkeeping `openssl ca` needs."""

    def __init__(self, folder, name):
        self.dir = os.path.join(folder, name)
        os.makedirs(os.path.join(self.dir, "new"))
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.crt")
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
             "-out", self.cert, "-subj", f"/CN=tocsin test CA {name}", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")

    def issue(self, kind, name="localhost", start=-1, end=30):
        """A certificate for DNS name `name`, valid from `start` to `end`
        days from now, and its key. Returns (certfile, keyfile)."""
        base = os.path.join(self.dir, kind)
        cert, key, csr, conf = (f"{base}.{x}" for x in ("crt", "key", "csr", "cnf"))
        with open(conf, "w") as f:
            f.write(f"""[ca]
default_ca = this
[this]
dir = {self.dir}
database = {self.dir}/index.txt
new_certs_dir = {self.dir}/new
serial = {self.dir}/serial
unique_subject = no
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{name}
""")
        _run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", csr, "-subj", f"/CN={name}")
        _run("openssl", "ca", "-batch", "-config", conf, "-cert", self.cert, "-keyfile", self.key,
             "-in", csr, "-out", cert, "-startdate", _stamp(start), "-enddate", _stamp(end))
        return cert, key


def self_signed(folder, kind, name="localhost"):
    """A self-signed certificate for DNS name `name` (valid 30 days) and its
    key. Returns (certfile, keyfile)."""
    cert, key = (os.path.join(folder, f"{kind}.{x}") for x in ("crt", "key"))
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", cert, "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-days", "30")
    return cert, key


def server_context(cert, key):
    """A TLS server context presenting cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def bundle(path, *certs):
    """Writes the PEM certificates certs, one after another, into path."""
    with open(path, "w") as out:
        for c in certs:
            with open(c) as f:
                out.write(f.read())
    return path
