"""test_clients.py - task-redis-server driven by the real clients people use.

Every other integration test checks one module's commands; this one checks
that the programs and libraries that talk to Redis in the wild work against
our server unchanged, each the way it is normally used:

  - redis-cli one-shot commands (output formats: --raw, --no-raw, RESP3
    with -3; -n DB; -a PASSWORD against --requirepass; -x; -r; --scan;
    --bigkeys), and the same invocations compared byte for byte with real
    Redis 7.0's output when redis-server is installed;
  - redis-cli interactive mode, fed on stdin;
  - redis-cli --pipe, the documented mass-insertion path: 10,000 SETs, and
    its summary line;
  - redis-benchmark, every test we claim, unpipelined and with -P 16, with
    --csv: every test reports a positive rate, the keys it wrote hold what
    it wrote, and the server is fine after;
  - redis-py: a pipeline of 10,000 commands with every reply checked;
    RESP3 through redis-py when the installed version speaks it (5.x),
    otherwise through a raw HELLO 3 and a small RESP3 reader here;
  - 1,000 concurrent connections, each SETting and GETting its own key,
    all visible in CLIENT LIST and INFO clients while they are open.

Runs with Debian's /usr/bin/python3 (python3-redis) from meson; tests that
need a client program that is missing skip with a message.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
import redis

CLI = shutil.which('redis-cli')
BENCH = shutil.which('redis-benchmark')
REDIS_SERVER = shutil.which('redis-server')
RUN_TIMEOUT = 60  # any one client program run
NCLIENTS = 1000


def _raise_nofile(want):
    """Raise RLIMIT_NOFILE's soft limit to @want (up to the hard limit),
    before the servers start, so that they inherit it too.  Returns the
    soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft


# The 1,000 connections and the server's own descriptors, with room.
NOFILE = _raise_nofile(4096)


def redis_py_version():
    """redis-py's version as a tuple, from the module or pip's metadata."""
    v = getattr(redis, '__version__', None)
    if not v:
        try:
            from importlib import metadata
            v = metadata.version('redis')
        except Exception:  # pragma: no cover - no metadata either
            v = '0'
    return tuple(int(x) for x in re.findall(r'\d+', v)[:3])


def free_port():
    """A port the kernel says is free now (for real Redis, which cannot be
    told to pick one and say which)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- A small RESP2/RESP3 reader (for raw sockets) ---------------------------


class RespError(Exception):
    pass


class Reader:
    """Reads whole replies from a socket, every RESP3 type included."""

    def __init__(self, sock):
        self.f = sock.makefile('rb')

    def line(self):
        ln = self.f.readline()
        if not ln.endswith(b'\r\n'):
            raise EOFError('connection closed mid-reply: %r' % ln)
        return ln[:-2]

    def exact(self, n):
        d = self.f.read(n + 2)
        if len(d) != n + 2 or not d.endswith(b'\r\n'):
            raise EOFError('short bulk: %r' % d)
        return d[:-2]

    def reply(self):
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t == b'+':
            return rest.decode()
        if t == b'-':
            return RespError(rest.decode())
        if t in (b':', b'('):
            return int(rest)
        if t == b'$':
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if t in (b'*', b'~', b'>'):
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b'%':
            return {self._key(self.reply()): self.reply() for _ in range(int(rest))}
        if t == b'_':
            return None
        if t == b'#':
            return rest == b't'
        if t == b',':
            return float(rest)
        if t == b'=':
            return self.exact(int(rest))[4:]  # drop "txt:"
        if t == b'|':  # an attribute: skip it, the reply follows
            for _ in range(2 * int(rest)):
                self.reply()
            return self.reply()
        raise ValueError('not a RESP type: %r' % ln)

    @staticmethod
    def _key(k):
        return k.decode() if isinstance(k, bytes) else k


def command(*args):
    """One request, RESP multibulk encoded."""
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def mass_insert_input(n, prefix=b'key:', width=12, vwidth=16):
    """redis-cli --pipe input: @n SETs of key:000000000001.. to 16-byte
    values (the same input bench/compare-redis.sh loads)."""
    out = []
    for i in range(1, n + 1):
        k = b'%s%0*d' % (prefix, width, i)
        v = b'%0*d' % (vwidth, i)
        out.append(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, len(v), v))
    return b''.join(out)


SANITIZER_RE = re.compile(r'runtime error:|ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer')


class ClientTest(harness.ServerTest):
    """harness.ServerTest, and the server's log must be free of sanitizer
    reports (UBSan reports without changing the exit status)."""

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        m = SANITIZER_RE.search(cls.server.log_text())
        if m:
            raise AssertionError('sanitizer report in the server log:\n' + cls.server.log_text())


# ---- redis-cli -----------------------------------------------------------------


def run_cli(host, port, *args, input=None, timeout=RUN_TIMEOUT):
    """redis-cli against host:port; returns the CompletedProcess (bytes)."""
    return subprocess.run([CLI, '-h', host, '-p', str(port)] + list(args),
                          input=input, capture_output=True, timeout=timeout)


@unittest.skipUnless(CLI, 'redis-cli is missing: apt-get install redis-tools')
class RedisCli(ClientTest):
    """redis-cli one-shot commands and interactive mode."""

    def cli(self, *args, **kw):
        p = run_cli(self.server.host, self.server.port, *args, **kw)
        return p

    def out(self, *args, **kw):
        p = self.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_ping(self):
        self.assertEqual(self.out('ping'), b'PONG\n')
        self.assertEqual(self.out('ping', 'hello world'), b'hello world\n')

    def test_set_get(self):
        self.assertEqual(self.out('set', 'greeting', 'hi there'), b'OK\n')
        self.assertEqual(self.out('get', 'greeting'), b'hi there\n')
        self.assertEqual(self.r.get('greeting'), b'hi there')

    def test_missing_key_formats(self):
        # Human output (what a terminal gets) shows the null as (nil);
        # raw output (a pipe's default) shows an empty line.
        self.assertEqual(self.out('--no-raw', 'get', 'missing'), b'(nil)\n')
        self.assertEqual(self.out('--raw', 'get', 'missing'), b'\n')
        self.assertEqual(self.out('get', 'missing'), b'\n')

    def test_raw_and_human_output(self):
        self.r.set('s', b'two\nlines "q"')
        self.assertEqual(self.out('--raw', 'get', 's'), b'two\nlines "q"\n')
        self.assertEqual(self.out('--no-raw', 'get', 's'), b'"two\\nlines \\"q\\""\n')
        self.assertEqual(self.out('--no-raw', 'incr', 'n'), b'(integer) 1\n')
        self.assertEqual(self.out('--raw', 'incr', 'n'), b'2\n')
        self.r.set('a', 'x')
        self.assertEqual(self.out('--no-raw', 'mget', 'a', 'nope', 'n'),
                         b'1) "x"\n2) (nil)\n3) "2"\n')
        self.assertEqual(self.out('--raw', 'mget', 'a', 'nope', 'n'), b'x\n\n2\n')

    def test_errors(self):
        p = self.cli('--no-raw', 'nosuchcmd', 'a', 'b')
        self.assertEqual(p.stdout, b"(error) ERR unknown command 'nosuchcmd', "
                         b"with args beginning with: 'a' 'b' \n")
        p = self.cli('--no-raw', 'get')
        self.assertEqual(p.stdout, b"(error) ERR wrong number of arguments for 'get' command\n")
        self.r.set('s', 'abc')
        p = self.cli('--no-raw', 'incr', 's')
        self.assertEqual(p.stdout, b'(error) ERR value is not an integer or out of range\n')
        # The server is still fine, and the key untouched.
        self.assertEqual(self.out('get', 's'), b'abc\n')

    def test_select_db(self):
        self.assertEqual(self.out('-n', '3', 'set', 'k3', 'in three'), b'OK\n')
        self.assertEqual(self.out('-n', '3', 'get', 'k3'), b'in three\n')
        self.assertEqual(self.out('-n', '3', 'dbsize'), b'1\n')
        self.assertEqual(self.out('--no-raw', 'get', 'k3'), b'(nil)\n')
        self.assertEqual(self.client(db=3).get('k3'), b'in three')
        self.assertIsNone(self.r.get('k3'))
        # An index out of range: redis-cli reports the SELECT's error and
        # runs the command in database 0.
        p = self.cli('-n', '99', 'ping')
        self.assertIn(b'SELECT 99 failed: ERR DB index is out of range', p.stderr)
        self.assertEqual(p.stdout, b'PONG\n')

    def test_resp3(self):
        # -3 sends HELLO 3 first; a map and the RESP3 null and integer
        # come back in redis-cli's RESP3 notation.
        out = self.out('-3', '--no-raw', 'hello', '3')
        self.assertRegex(out, rb'(?m)^\d+# "proto" => \(integer\) 3$')
        self.assertRegex(out, rb'(?m)^\d+# "version" => "7\.0\.\d+"$')
        self.assertRegex(out, rb'(?m)^\d+# "id" => \(integer\) \d+$')
        self.assertEqual(self.out('-3', '--no-raw', 'get', 'missing'), b'(nil)\n')
        self.assertEqual(self.out('-3', '--no-raw', 'incr', 'c'), b'(integer) 1\n')
        self.assertEqual(self.out('-3', '--no-raw', 'set', 'k', 'v'), b'OK\n')
        self.assertEqual(self.out('-3', '--no-raw', 'get', 'k'), b'"v"\n')

    def test_stdin_last_arg(self):
        # -x: the last argument is read from stdin, bytes as they are.
        blob = bytes(range(256)) * 40
        self.assertEqual(self.out('-x', 'set', 'blob', input=blob), b'OK\n')
        self.assertEqual(self.r.get('blob'), blob)

    def test_repeat(self):
        self.assertEqual(self.out('-r', '5', 'incr', 'ctr'), b'1\n2\n3\n4\n5\n')
        self.assertEqual(self.r.get('ctr'), b'5')

    def test_scan_and_bigkeys(self):
        self.r.mset({'user:%d' % i: 'x' * i for i in range(1, 301)})
        self.r.mset({'other:%d' % i: 'y' for i in range(50)})
        out = self.out('--scan', '--pattern', 'user:*')
        keys = out.split(b'\n')[:-1]  # SCAN may return a key twice: compare sets
        self.assertEqual(set(keys), {b'user:%d' % i for i in range(1, 301)})
        out = self.out('--bigkeys')
        self.assertIn(b"Biggest string found '\"user:300\"' has 300 bytes", out)
        self.assertIn(b'Sampled 350 keys in the keyspace!', out)

    def test_interactive(self):
        # Interactive mode reading stdin (not a terminal): one command per
        # line, one reply printed per command; quotes are redis-cli's.
        script = (b'set x 1\n'
                  b'get x\n'
                  b'incr x\n'
                  b'get nope\n'
                  b'set "two words" \'single q\'\n'
                  b'get "two words"\n'
                  b'nosuchcmd\n'
                  b'select 2\n'
                  b'set indb2 yes\n'
                  b'ping\n')
        p = self.cli('--no-raw', input=script)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(b'\n'), [
            b'OK', b'"1"', b'(integer) 2', b'(nil)', b'OK', b'"single q"',
            b"(error) ERR unknown command 'nosuchcmd', with args beginning with: ",
            b'OK', b'OK', b'PONG', b''])
        self.assertEqual(self.client(db=2).get('indb2'), b'yes')
        self.assertEqual(self.r.get('two words'), b'single q')

    def test_pipe_mass_insertion(self):
        n = 10000
        p = self.cli('--pipe', input=mass_insert_input(n))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(b'All data transferred', p.stdout)
        self.assertRegex(p.stdout, rb'errors: 0, replies: %d\b' % n)
        self.assertEqual(self.r.dbsize(), n)
        for i in (1, 2, 4999, 10000):
            self.assertEqual(self.r.get(b'key:%012d' % i), b'%016d' % i)

    def test_pipe_counts_errors(self):
        # --pipe counts error replies: three good SETs, two bad commands.
        data = command('SET', 'a', '1') + command('INCR', 'a') + \
            command('NOSUCH') + command('SET', 'b') + command('GET', 'a')
        p = self.cli('--pipe', input=data)
        self.assertRegex(p.stdout, rb'errors: 2, replies: 5\b')
        self.assertEqual(self.r.get('a'), b'2')


@unittest.skipUnless(CLI, 'redis-cli is missing: apt-get install redis-tools')
class RedisCliAuth(ClientTest):
    """redis-cli -a against a server with --requirepass."""

    server_args = ['--requirepass', 's3cret pass']
    password = 's3cret pass'

    def cli(self, *args, **kw):
        return run_cli(self.server.host, self.server.port, *args, **kw)

    def test_password(self):
        p = self.cli('-a', 's3cret pass', '--no-auth-warning', 'ping')
        self.assertEqual((p.returncode, p.stdout), (0, b'PONG\n'), p.stderr)
        p = self.cli('-a', 's3cret pass', 'set', 'k', 'v')
        self.assertEqual(p.stdout, b'OK\n')
        self.assertIn(b'Using a password', p.stderr)  # redis-cli's own warning
        self.assertEqual(self.r.get('k'), b'v')

    def test_no_password(self):
        p = self.cli('--no-raw', 'get', 'k')
        self.assertEqual(p.stdout.rstrip(b'\n'), b'(error) NOAUTH Authentication required.')

    def test_wrong_password(self):
        p = self.cli('-a', 'wrong', '--no-auth-warning', '--no-raw', 'ping')
        self.assertIn(b'AUTH failed: WRONGPASS invalid username-password pair '
                      b'or user is disabled.', p.stderr)
        self.assertEqual(p.stdout.rstrip(b'\n'), b'(error) NOAUTH Authentication required.')

    def test_password_db_resp3(self):
        p = self.cli('-a', 's3cret pass', '--no-auth-warning', '-n', '5', 'set', 'k5', 'v5')
        self.assertEqual(p.stdout, b'OK\n', p.stderr)
        self.assertEqual(self.client(db=5).get('k5'), b'v5')
        p = self.cli('-a', 's3cret pass', '--no-auth-warning', '-3', '--no-raw', '-n', '5',
                     'get', 'k5')
        self.assertEqual(p.stdout, b'"v5"\n', p.stderr)

    def test_pipe_with_auth(self):
        p = self.cli('-a', 's3cret pass', '--no-auth-warning', '--pipe',
                     input=mass_insert_input(1000))
        self.assertRegex(p.stdout, rb'errors: 0, replies: 1000\b')
        self.assertEqual(self.r.dbsize(), 1000)


# ---- redis-cli, side by side with real Redis ----------------------------------

# One-shot invocations run in this order against a fresh server; their
# output (stdout and stderr) must be byte for byte what Redis 7.0 prints.
SAME_AS_REDIS = [
    ['ping'],
    ['--no-raw', 'ping', 'a b'],
    ['set', 'a', '1'],
    ['--no-raw', 'get', 'a'],
    ['--no-raw', 'get', 'missing'],
    ['--no-raw', 'incr', 'a'],
    ['--no-raw', 'incrby', 'a', '-10'],
    ['--no-raw', 'decr', 'a'],
    ['--no-raw', 'incrbyfloat', 'f', '1.5'],
    ['--no-raw', 'incrbyfloat', 'f', '1e3'],
    ['--no-raw', 'mset', 'b', '2', 'c', '3'],
    ['--no-raw', 'mget', 'a', 'b', 'c', 'missing'],
    ['--no-raw', 'set', 's', 'line1\nline2'],
    ['--no-raw', 'get', 's'],
    ['--raw', 'get', 's'],
    ['--no-raw', 'strlen', 's'],
    ['--no-raw', 'append', 's', '!'],
    ['--no-raw', 'getrange', 's', '0', '3'],
    ['--no-raw', 'incr', 's'],
    ['--no-raw', 'get'],
    ['--no-raw', 'set', 'a', 'b', 'c'],
    ['--no-raw', 'nosuchcmd', 'x', 'y'],
    ['--no-raw', 'exists', 'a', 'b', 'missing'],
    ['--no-raw', 'expire', 'a', '100'],
    ['--no-raw', 'ttl', 'a'],
    ['--no-raw', 'ttl', 'b'],
    ['--no-raw', 'ttl', 'missing'],
    ['--no-raw', 'persist', 'a'],
    ['--no-raw', 'type', 'a'],
    ['--no-raw', 'type', 'missing'],
    ['--no-raw', 'setnx', 'a', 'z'],
    ['--no-raw', 'getset', 'a', 'z'],
    ['--no-raw', 'del', 'a', 'missing'],
    ['--no-raw', 'echo', 'hello'],
    ['--no-raw', '-n', '1', 'set', 'one', '1'],
    ['--no-raw', '-n', '1', 'dbsize'],
    ['--no-raw', 'dbsize'],
    ['--no-raw', 'select', '16'],
    ['-3', '--no-raw', 'get', 'missing'],
    ['-3', '--no-raw', 'mget', 'b', 'missing'],
    ['-3', '--no-raw', 'incr', 'n3'],
    ['-3', '--no-raw', 'incrbyfloat', 'f', '0.25'],
    ['--no-raw', 'rename', 'missing', 'x'],
    ['--no-raw', 'rename', 'b', 'b2'],
    ['--no-raw', 'keys', 'b*'],
    ['--no-raw', 'flushdb'],
    ['--no-raw', 'dbsize'],
]


@unittest.skipUnless(CLI and REDIS_SERVER, 'redis-cli or redis-server is missing: '
                     'apt-get install redis-tools redis-server')
class SameAsRedis(unittest.TestCase):
    """The same redis-cli invocations against Redis 7.0 and against us."""

    @classmethod
    def setUpClass(cls):
        cls.ours = harness.Server()
        cls.redis_dir = tempfile.TemporaryDirectory(prefix='rds-real-')
        cls.redis = None
        for _ in range(5):  # the free port may be taken before Redis binds it
            port = free_port()
            proc = subprocess.Popen([REDIS_SERVER, '--port', str(port), '--bind', '127.0.0.1',
                                     '--save', '', '--appendonly', 'no',
                                     '--dir', cls.redis_dir.name],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(('127.0.0.1', port), timeout=1).close()
                    cls.redis, cls.redis_port = proc, port
                    break
                except OSError:
                    time.sleep(0.05)
            if cls.redis:
                break
            proc.kill()
            proc.wait()
        if not cls.redis:
            cls.ours.stop()
            raise RuntimeError('real redis-server did not start')

    @classmethod
    def tearDownClass(cls):
        cls.redis.send_signal(signal.SIGTERM)
        try:
            cls.redis.wait(10)
        except subprocess.TimeoutExpired:
            cls.redis.kill()
            cls.redis.wait()
        cls.redis_dir.cleanup()
        rc = cls.ours.stop()
        if rc != 0 or SANITIZER_RE.search(cls.ours.log_text()):
            raise AssertionError('server exited with %r:\n%s' % (rc, cls.ours.log_text()))

    def test_same_output(self):
        for port in (self.redis_port, self.ours.port):
            run_cli('127.0.0.1', port, 'flushall')
        for args in SAME_AS_REDIS:
            want = run_cli('127.0.0.1', self.redis_port, *args)
            got = run_cli(self.ours.host, self.ours.port, *args)
            with self.subTest(args=' '.join(args)):
                self.assertEqual((got.stdout, got.stderr, got.returncode),
                                 (want.stdout, want.stderr, want.returncode))
        self.assertTrue(self.ours.alive(), self.ours.log_text())

    def test_same_interactive(self):
        script = (b'set x 10\nincrby x 5\nget x\nget nope\nstrlen x\n'
                  b'mget x nope\nnosuch cmd\nselect 3\nset y "a b"\nget y\n'
                  b'ttl y\nexpire y 50\nttl y\ndel y x\nping\n')
        outs = []
        for host, port in (('127.0.0.1', self.redis_port), (self.ours.host, self.ours.port)):
            run_cli(host, port, 'flushall')
            p = run_cli(host, port, '--no-raw', input=script)
            outs.append((p.stdout, p.returncode))
        self.assertEqual(outs[1], outs[0])


# ---- redis-benchmark -------------------------------------------------------------

BENCH_TESTS = ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'MSET (10 keys)']


@unittest.skipUnless(BENCH, 'redis-benchmark is missing: apt-get install redis-tools')
class RedisBenchmark(ClientTest):
    """redis-benchmark runs every test we claim, and what it wrote is there."""

    N = 20000

    def bench(self, pipeline):
        cmd = [BENCH, '-h', self.server.host, '-p', str(self.server.port),
               '-t', 'ping_inline,ping_mbulk,set,get,incr,mset',
               '-n', str(self.N), '-c', '20', '-P', str(pipeline), '--csv']
        p = subprocess.run(cmd, capture_output=True, timeout=180)
        out = p.stdout.replace(b'\r', b'\n').decode(errors='replace')
        self.assertEqual(p.returncode, 0, out + p.stderr.decode(errors='replace'))
        # It fetches CONFIG GET save/appendonly first: a warning if refused.
        self.assertNotIn('Could not fetch server CONFIG', out + p.stderr.decode(errors='replace'))
        rows = {}
        for line in out.splitlines():
            m = re.match(r'^"([^"]+)","([^"]+)"', line)
            if m and m.group(1) != 'test':
                rows[m.group(1)] = float(m.group(2))
        self.assertEqual(sorted(rows), sorted(BENCH_TESTS), out)
        for name, rps in rows.items():
            self.assertGreater(rps, 0, '%s: %s' % (name, out))
        # What the tests wrote: SET and MSET store 3 random bytes under
        # key:__rand_int__ (no -r), INCR counts every request.
        self.assertEqual(len(self.r.get('key:__rand_int__')), 3)
        self.assertEqual(self.r.get('counter:__rand_int__'), str(self.N).encode())
        self.assertTrue(self.server.alive(), self.server.log_text())
        self.assertTrue(self.r.ping())
        return rows

    def test_unpipelined(self):
        self.bench(1)

    def test_pipelined(self):
        self.bench(16)

    def test_random_keys_and_size(self):
        # -r spreads keys over a keyspace, -d sets the value size.
        p = subprocess.run([BENCH, '-h', self.server.host, '-p', str(self.server.port),
                            '-t', 'set', '-n', '20000', '-r', '1000', '-d', '100', '-c', '10',
                            '-P', '8', '-q'], capture_output=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr)
        n = self.r.dbsize()
        self.assertGreater(n, 900)
        self.assertLessEqual(n, 1000)
        k = next(self.r.scan_iter(match='key:*', count=100))
        self.assertRegex(k, rb'^key:\d{12}$')
        self.assertEqual(len(self.r.get(k)), 100)


# ---- redis-py ---------------------------------------------------------------------


class RedisPy(ClientTest):
    """redis-py: a large unpipelined-transaction pipeline, RESP3."""

    def test_pipeline_10000(self):
        p = self.r.pipeline(transaction=False)
        n = 10000
        for i in range(n // 4):
            p.set('k:%d' % i, 'v:%d' % i)
            p.get('k:%d' % i)
            p.incrby('ctr', i)
            p.get('missing:%d' % i)
        replies = p.execute()
        self.assertEqual(len(replies), n)
        total = 0
        for i in range(n // 4):
            total += i
            self.assertEqual(replies[4 * i:4 * i + 4], [True, b'v:%d' % i, total, None])
        self.assertEqual(self.r.get('ctr'), str(total).encode())
        self.assertEqual(self.r.dbsize(), n // 4 + 1)

    def test_pipeline_errors_in_place(self):
        # An error reply stays at its place in the pipeline and does not
        # stop what follows.
        p = self.r.pipeline(transaction=False)
        p.set('s', 'abc')
        p.incr('s')
        p.get('s')
        p.execute_command('NOSUCHCMD', 'x')
        p.incr('n')
        replies = p.execute(raise_on_error=False)
        self.assertEqual(replies[0], True)
        self.assertIsInstance(replies[1], redis.ResponseError)
        self.assertEqual(str(replies[1]), 'value is not an integer or out of range')
        self.assertEqual(replies[2], b'abc')
        self.assertIsInstance(replies[3], redis.ResponseError)
        self.assertIn("unknown command 'NOSUCHCMD'", str(replies[3]))
        self.assertEqual(replies[4], 1)

    def test_everyday_use(self):
        r = self.client(decode_responses=True)
        self.assertTrue(r.set('session:1', 'alice', ex=100))
        self.assertTrue(0 < r.ttl('session:1') <= 100)
        self.assertIsNone(r.set('session:1', 'bob', nx=True))
        self.assertEqual(r.get('session:1'), 'alice')
        self.assertEqual(r.incrbyfloat('price', 2.5), 2.5)
        self.assertEqual(r.mget(['session:1', 'price', 'nope']), ['alice', '2.5', None])
        self.assertEqual(r.delete('session:1', 'nope'), 1)
        self.assertEqual(r.exists('session:1'), 0)
        self.assertTrue(r.client_setname('worker-7'))
        self.assertEqual(r.client_getname(), 'worker-7')
        self.assertEqual(r.echo('héllo'), 'héllo')
        big = os.urandom(1 << 20)
        self.r.set(b'bin\x00key', big)
        self.assertEqual(self.r.get(b'bin\x00key'), big)
        r.close()

    def test_resp3(self):
        ver = redis_py_version()
        try:
            r3 = self.client(protocol=3)
        except TypeError:
            r3 = None  # redis-py before 5.0 has no RESP3
        if r3 is not None:
            self.assertTrue(r3.set('k', 'v'))
            self.assertEqual(r3.get('k'), b'v')
            self.assertIsNone(r3.get('missing'))
            self.assertEqual(r3.incr('c'), 1)
            r3.close()
        else:
            self.assertLess(ver, (5, 0, 0))
        # Raw HELLO 3, whatever the library: the map, then RESP3 replies.
        s = self.raw()
        rd = Reader(s)
        s.sendall(command('HELLO', '3'))
        hello = rd.reply()
        self.assertIsInstance(hello, dict)
        self.assertEqual(hello['proto'], 3)
        self.assertEqual(hello['server'], b'redis')
        self.assertRegex(hello['version'], rb'^7\.0\.\d+$')
        self.assertIsInstance(hello['id'], int)
        self.assertEqual(hello['mode'], b'standalone')
        self.assertEqual(hello['role'], b'master')
        self.assertEqual(hello['modules'], [])
        s.sendall(command('SET', 'k', 'v') + command('GET', 'missing') +
                  command('MGET', 'k', 'missing') + command('INCR', 'c') +
                  command('CONFIG', 'GET', 'maxclients') + command('PING'))
        self.assertEqual(rd.reply(), 'OK')
        self.assertIsNone(rd.reply())
        self.assertEqual(rd.reply(), [b'v', None])
        self.assertIsInstance(rd.reply(), int)
        cfg = rd.reply()  # a map in RESP3 (maxclients may be lowered to the fd limit)
        self.assertIsInstance(cfg, dict)
        self.assertEqual(list(cfg), ['maxclients'])
        self.assertRegex(cfg['maxclients'], rb'^\d+$')
        self.assertEqual(rd.reply(), 'PONG')
        # Back to RESP2: the null is $-1 again.
        s.sendall(command('HELLO', '2') + command('GET', 'missing'))
        self.assertIsInstance(rd.reply(), list)
        self.assertEqual(rd.line(), b'$-1')
        s.close()


# ---- Many concurrent clients -------------------------------------------------------


class ManyClients(ClientTest):
    """1,000 connections at once, each with its own key."""

    def setUp(self):
        if NOFILE < NCLIENTS + 64:
            self.skipTest('RLIMIT_NOFILE is %d: %d connections need more' % (NOFILE, NCLIENTS))
        super().setUp()

    def read_exact_reply(self, s, want):
        buf = b''
        deadline = time.monotonic() + harness.IO_TIMEOUT
        while len(buf) < len(want) and time.monotonic() < deadline:
            chunk = s.recv(len(want) - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf

    def test_thousand_clients(self):
        socks = []
        try:
            for i in range(NCLIENTS):
                socks.append(self.raw())
            # Every connection has its request in flight before any reply
            # is read.
            for i, s in enumerate(socks):
                s.sendall(command('SET', 'client:%d' % i, 'value of %d' % i))
            for i, s in enumerate(socks):
                self.assertEqual(self.read_exact_reply(s, b'+OK\r\n'), b'+OK\r\n', 'client %d' % i)
            for i, s in enumerate(socks):
                s.sendall(command('GET', 'client:%d' % i))
            for i, s in enumerate(socks):
                v = b'value of %d' % i
                want = b'$%d\r\n%s\r\n' % (len(v), v)
                self.assertEqual(self.read_exact_reply(s, want), want, 'client %d' % i)

            # All of them are in CLIENT LIST and INFO clients (and the
            # test's own client too).
            info = self.r.info('clients')
            self.assertGreaterEqual(info['connected_clients'], NCLIENTS + 1)
            listing = self.r.execute_command('CLIENT', 'LIST')
            if isinstance(listing, bytes):
                listing = listing.decode()
            addrs = set(re.findall(r'\baddr=(\S+)', listing))
            ours = {'%s:%d' % s.getsockname()[:2] for s in socks}
            self.assertFalse(ours - addrs, 'connections missing from CLIENT LIST')
            ids = re.findall(r'\bid=(\d+)', listing)
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(self.r.dbsize(), NCLIENTS)
        finally:
            for s in socks:
                s.close()
        # Once closed, they leave (the server notices each EOF).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            n = self.r.info('clients')['connected_clients']
            if n <= 1:
                break
            time.sleep(0.1)
        self.assertEqual(n, 1)

    def test_thousand_clients_threads(self):
        # The same through redis-py, one blocking client per thread, 100
        # threads each driving 10 connections in turn: the server sees
        # many clients issuing commands at the same moment.
        import threading
        errors = []
        conns = []

        def worker(t):
            try:
                for j in range(10):
                    i = t * 10 + j
                    r = self.server.client()
                    conns.append(r)
                    r.set('t:%d' % i, i)
                    if r.get('t:%d' % i) != str(i).encode():
                        errors.append('t:%d' % i)
                    r.incr('total')
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(NCLIENTS // 10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(errors, [])
        self.assertEqual(self.r.get('total'), str(NCLIENTS).encode())
        self.assertGreaterEqual(self.r.info('clients')['connected_clients'], NCLIENTS + 1)
        for r in conns:
            r.close()


if __name__ == '__main__':
    harness.main()
