"""harness.py - start the real task-redis-server for an integration test.

Every integration test (tests/redis/test_*.py) runs against the binary meson
built ($RDS_SERVER), started on an ephemeral port: the server is told
`--port 0`, binds a port the kernel picks, and logs

    ... * Ready to accept connections tcp on 127.0.0.1:PORT

which the harness reads back from its stderr.  Nothing uses a fixed port or
path: each server gets a temporary directory as its working directory.

    class T(harness.ServerTest):
        server_args = ['--requirepass', 'pw']      # optional
        def test_x(self):
            r = self.client()                      # redis.Redis, RESP2
            s = self.raw()                         # a plain socket
            self.assertEqual(harness.roundtrip(s, b'PING\\r\\n'), b'+PONG\\r\\n')

Run time is bounded: the server start waits at most START_TIMEOUT, sockets
have timeouts, and stop() escalates to SIGKILL.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import redis  # Debian's python3-redis
except ImportError:  # pragma: no cover - bootstrap.sh installs it
    sys.stderr.write('harness: python3-redis is missing: ./bootstrap.sh test installs it\n')
    sys.exit(1)

SERVER = os.environ.get('RDS_SERVER', '')
START_TIMEOUT = 15.0
IO_TIMEOUT = 10.0
READY_RE = re.compile(rb'Ready to accept connections tcp on (\S+):(\d+)')


class Server:
    """One task-redis-server process on an ephemeral port."""

    def __init__(self, *args, env=None):
        if not SERVER or not os.access(SERVER, os.X_OK):
            raise RuntimeError('RDS_SERVER does not name the server binary: %r' % SERVER)
        self.dir = tempfile.TemporaryDirectory(prefix='rds-test-')
        self.args = list(args)
        self.log = []          # stderr lines (bytes)
        self.host = None
        self.port = None
        cmd = [SERVER] + (['--port', '0'] if '--port' not in self.args else []) + self.args
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(cmd, cwd=self.dir.name, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=full_env)
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.append(line)
                m = READY_RE.search(line)
                if m and not ready.is_set():
                    self.host = m.group(1).decode()
                    self.port = int(m.group(2))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(START_TIMEOUT) or self.port is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError('server did not start:\n' + self.log_text())

    def log_text(self):
        return b''.join(self.log).decode(errors='replace')

    def client(self, **kw):
        kw.setdefault('socket_timeout', IO_TIMEOUT)
        kw.setdefault('socket_connect_timeout', IO_TIMEOUT)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def raw(self, timeout=IO_TIMEOUT):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send @sig, wait up to @timeout (then SIGKILL); return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.dir.cleanup()
        return self.proc.returncode


def roundtrip(sock, data, expect_close=False, timeout=IO_TIMEOUT):
    """Send @data, return what arrives until the reply looks complete: one
    read that ends in CRLF after a short quiet period, or EOF."""
    sock.sendall(data)
    return read_some(sock, timeout=timeout, until_close=expect_close)


def read_some(sock, timeout=IO_TIMEOUT, until_close=False, quiet=0.2):
    """Read what the server sends: until EOF (@until_close), or until the
    data ends in CRLF and nothing more arrives for @quiet seconds."""
    sock.settimeout(timeout)
    buf = b''
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
        if not until_close and buf.endswith(b'\r\n'):
            sock.settimeout(quiet)
            try:
                more = sock.recv(65536)
            except socket.timeout:
                break
            if not more:
                break
            buf += more
            sock.settimeout(timeout)
    return buf


def is_closed(sock, timeout=IO_TIMEOUT):
    """True when the peer closed the connection (EOF or reset) in @timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


# ---- Building requests and reading replies by hand ------------------------------


def bulk(v):
    """One RESP bulk string."""
    if isinstance(v, str):
        v = v.encode()
    return b'$%d\r\n%s\r\n' % (len(v), v)


def mbulk(*args):
    """A multibulk request of @args (str or bytes)."""
    return b'*%d\r\n' % len(args) + b''.join(bulk(a) for a in args)


def recv_exact(sock, n, timeout=IO_TIMEOUT):
    """Read exactly @n bytes (fewer only at EOF or timeout)."""
    sock.settimeout(timeout)
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n and time.monotonic() < deadline:
        try:
            chunk = sock.recv(min(1 << 20, n - len(buf)))
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def rss_kb(pid):
    """The resident set size of process @pid in KiB (VmRSS)."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for pid %d' % pid)


class ServerTest(unittest.TestCase):
    """A test class with one server for all its tests (flushed between)."""

    server_args = []
    password = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if rc != 0:
            raise AssertionError('server exited with %r:\n%s' % (rc, cls.server.log_text()))

    def setUp(self):
        self.r = self.client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()
        if not self.server.alive():
            self.fail('the server died:\n' + self.server.log_text())

    def client(self, **kw):
        if self.password is not None:
            kw.setdefault('password', self.password)
        return self.server.client(**kw)

    def raw(self, **kw):
        return self.server.raw(**kw)


def main():
    unittest.main(verbosity=2)
