"""rds_testlib.py - helpers for the command tests (test_strings.py,
test_keys.py, test_expire.py):

  Conn       a raw RESP client over a socket that returns each reply's
             exact bytes (Conn.call) or decodes it (Conn.cmd), RESP2 or
             RESP3 (after HELLO 3): redis-py 4.3 speaks only RESP2.
  Reference  the real redis-server 7.0 on a Unix socket in a temporary
             directory, to send the same commands to and compare the
             bytes of the replies (a test that needs it is skipped, with
             the reason, when redis-server 7.0 is not installed).
  DiffMixin  assert_same_replies(script): run a script of commands on both
             servers in RESP2 and RESP3 and compare every reply byte for
             byte.

Everything has a timeout; the reference server is killed at the end.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness


class Error(bytes):
    """A RESP error reply (its text without '-')."""


class Simple(bytes):
    """A RESP simple string (its text without '+')."""


class Push(list):
    """A RESP3 push."""


class _More(Exception):
    pass


def encode(args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class Conn:
    """A raw RESP connection."""

    def __init__(self, sock, timeout=harness.IO_TIMEOUT):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b''

    @classmethod
    def tcp(cls, host, port):
        s = socket.create_connection((host, port), timeout=harness.IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s)

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(harness.IO_TIMEOUT)
            s.connect(path)
        except OSError:
            s.close()
            raise
        return cls(s)

    def close(self):
        self.sock.close()

    def send(self, *args):
        self.sock.sendall(encode(args))

    def _parse(self, pos):
        """(value, end) of the reply at self.buf[pos:], or raise _More."""
        nl = self.buf.find(b'\r\n', pos)
        if nl < 0:
            raise _More()
        t, line, pos = self.buf[pos:pos + 1], self.buf[pos + 1:nl], nl + 2
        if t == b'+':
            return Simple(line), pos
        if t == b'-':
            return Error(line), pos
        if t == b':' or t == b'(':
            return int(line), pos
        if t == b'_':
            return None, pos
        if t == b'#':
            return line == b't', pos
        if t == b',':
            return float(line), pos
        if t in (b'$', b'=', b'!'):
            n = int(line)
            if n < 0:
                return None, pos
            if len(self.buf) < pos + n + 2:
                raise _More()
            v = self.buf[pos:pos + n]
            if t == b'!':
                v = Error(v)
            return v, pos + n + 2
        if t in (b'*', b'~', b'>', b'%', b'|'):
            n = int(line)
            if n < 0:
                return None, pos
            if t in (b'%', b'|'):
                n *= 2
            items = []
            for _ in range(n):
                v, pos = self._parse(pos)
                items.append(v)
            if t == b'%':
                return dict(zip(items[0::2], items[1::2])), pos
            if t == b'|':  # an attribute: the reply follows it
                return self._parse(pos)
            if t == b'>':
                return Push(items), pos
            return items, pos
        raise AssertionError('bad RESP type byte %r in %r' % (t, self.buf))

    def read_raw(self):
        """The exact bytes of the next reply."""
        while True:
            try:
                _, end = self._parse(0)
                raw, self.buf = self.buf[:end], self.buf[end:]
                return raw
            except _More:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError('connection closed; buffered %r' % self.buf)
                self.buf += chunk

    @staticmethod
    def decode(raw):
        """The value of one complete reply's bytes."""
        c = Conn.__new__(Conn)
        c.buf = raw
        return c._parse(0)[0]

    def read(self):
        return Conn.decode(self.read_raw())

    def call(self, *args):
        """Send one command, return its reply's bytes."""
        self.send(*args)
        return self.read_raw()

    def cmd(self, *args):
        """Send one command, return its reply decoded."""
        self.send(*args)
        return self.read()

    def hello3(self):
        reply = self.cmd('HELLO', '3')
        if isinstance(reply, Error):
            raise AssertionError('HELLO 3 failed: %r' % reply)
        return reply


class Reference:
    """The real redis-server 7.0 on a Unix socket (no TCP port)."""

    def __init__(self):
        exe = shutil.which('redis-server')
        if not exe:
            raise unittest.SkipTest('the reference redis-server is not installed')
        ver = subprocess.run([exe, '--version'], capture_output=True, timeout=10).stdout
        if not re.search(rb'v=7\.0\.', ver):
            raise unittest.SkipTest('the reference must be Redis 7.0, found: %r' % ver)
        self.dir = tempfile.TemporaryDirectory(prefix='rds-ref-')
        self.path = os.path.join(self.dir.name, 'redis.sock')
        self.proc = subprocess.Popen(
            [exe, '--port', '0', '--unixsocket', self.path, '--save', '',
             '--appendonly', 'no', '--dir', self.dir.name],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + harness.START_TIMEOUT
        while True:
            try:
                c = Conn.unix(self.path)
                ok = c.cmd('PING') == b'PONG'
                c.close()
                if ok:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError('the reference redis-server did not start')
            time.sleep(0.05)

    def conn(self):
        return Conn.unix(self.path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()


class DiffMixin:
    """For a harness.ServerTest: compare replies with the reference."""

    ref = None

    @classmethod
    def reference(cls):
        if DiffMixin.ref is None:
            DiffMixin.ref = Reference()
        return DiffMixin.ref

    @classmethod
    def stop_reference(cls):
        if DiffMixin.ref is not None:
            DiffMixin.ref.stop()
            DiffMixin.ref = None

    def ours(self):
        return Conn.tcp(self.server.host, self.server.port)

    def assert_same_replies(self, script, protos=(2, 3)):
        """Run @script (a list of commands, each a tuple of arguments) on
        an empty keyspace on our server and on the reference, in each of
        @protos, and require byte-identical replies."""
        ref = self.reference()
        for proto in protos:
            a, b = self.ours(), ref.conn()
            try:
                for c in (a, b):
                    if proto == 3:
                        c.hello3()
                    self.assertEqual(c.cmd('FLUSHALL'), b'OK')
                for args in script:
                    ra, rb = a.call(*args), b.call(*args)
                    self.assertEqual(ra, rb, 'RESP%d %r: ours %r, redis %r'
                                     % (proto, args, ra, rb))
            finally:
                a.close()
                b.close()
