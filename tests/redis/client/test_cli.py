"""test_cli.py - task-redis-cli ($RDS_CLI) against redis-cli 7.0.

The same commands go to the same server through both programs and their
stdout must be equal, byte for byte: task-redis-cli's default format
against `redis-cli --no-raw` (what redis-cli prints on a terminal), and
`--raw` against `redis-cli --raw`, for every reply type: statuses,
integers, bulk strings with escapes and binary bytes, nil, empty and
nested arrays (with two-digit numbering), errors, and RESP3 (-3) maps,
sets, doubles, booleans, verbatim strings and nulls.  Each suite runs
against task-redis-server (harness.Server) and Debian's redis-server
(started here, on an ephemeral port and a Unix socket, with DEBUG enabled
for DEBUG PROTOCOL); the database is reset and seeded before every run,
so a command that changes data prints the same thing both times.

Then what task-redis-cli adds or decides itself: mini-redis-cli's
commands (`get` on an empty server prints (nil), `set key value
expires-ms`, `ping [msg]`, `publish`, `subscribe` printing messages until
SIGINT or SIGTERM and exiting 0), usage and exit 2 on bad arguments, the
connection-refused message and exit 1, exit statuses on error replies
(0, or 1 with -e, as redis-cli), -a, -n, -u, -s.

Deliberate differences from redis-cli 7.0, not compared (cli.c's head
says why): RESP3 big numbers and attributes, `set k v <ms>`, a refused
AUTH at connect time.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
import redis

CLI = os.environ.get('RDS_CLI', '')
REDIS_CLI = shutil.which('redis-cli')
REDIS_SERVER = shutil.which('redis-server')
RUN_TIMEOUT = 30
WAIT = 10.0

BIN = b'\x00\x01\x7f\xff\t\r\n\x07\x08"\\\xc3\xa9 end'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def closed_port():
    """A port nobody listens on (bound, then closed)."""
    return free_port()


class RedisServer:
    """Debian's redis-server on 127.0.0.1:PORT and a Unix socket."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix='rdc-cli-')
        self.unix = os.path.join(self.dir.name, 'redis.sock')
        self.host = '127.0.0.1'
        for _ in range(20):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [REDIS_SERVER, '--port', str(self.port), '--bind', '127.0.0.1',
                 '--unixsocket', self.unix, '--save', '', '--appendonly', 'no',
                 '--dir', self.dir.name, '--enable-debug-command', 'yes'],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + harness.START_TIMEOUT
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    if redis.Redis(host=self.host, port=self.port,
                                   socket_timeout=2).ping():
                        return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            self.stop_proc()  # the port was taken, or it would not start
        raise RuntimeError('redis-server did not start')

    def stop_proc(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.stop_proc()
        self.dir.cleanup()


def default_signals():
    """In the child: SIGINT and SIGTERM as a shell's foreground job gets
    them, whatever the test runner ignores."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(prog, args, timeout=RUN_TIMEOUT):
    return subprocess.run([prog] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


class Reader:
    """Collect a process's stdout on a thread; wait for some text in it."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b''
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.buf += chunk
                self.cond.notify_all()

    def wait_for(self, text, timeout=WAIT):
        with self.cond:
            return self.cond.wait_for(lambda: text in self.buf, timeout)

    def finish(self):
        self.thread.join(WAIT)
        return self.buf


# Commands whose output must match redis-cli's.  Options may lead (-3).
COMMANDS = [
    ['ping'], ['ping', 'hello world'], ['echo', ''],
    ['echo', 'quote"back\\slash\ttab'],
    ['get', 's'], ['get', 'nokey'], ['get', 'bin'], ['get', 'e'],
    ['set', 'k', 'v'], ['set', 's', 'v', 'NX'], ['set', 's', 'v', 'XX', 'GET'],
    ['incr', 'n'], ['incrby', 'n', '-100'], ['incr', 's'],
    ['incrbyfloat', 'n', '0.5'],
    ['mget', 's', 'nokey', 'bin', 'e'],
    ['mget'] + ['k%d' % i for i in range(1, 13)],
    ['exists', 's', 'nokey', 's'], ['del', 'nokey'], ['type', 's'],
    ['strlen', 'bin'], ['getrange', 's', '1', '3'],
    # One match: KEYS's order is the hash table's, which differs from
    # one seeding of redis-server to the next (k10..k12 came out shuffled).
    ['keys', 'k1'], ['keys', 'nothing*'], ['scan', '0', 'MATCH', 'nothing*', 'COUNT', '1000'],
    ['config', 'get', 'maxmemory'], ['command', 'count'],
    ['command', 'info', 'get'], ['command', 'info', 'get', 'nosuch'],
    ['pubsub', 'numsub', 'ch1', 'ch2'], ['pubsub', 'channels'],
    ['ttl', 's'], ['expire', 'nokey', '10'], ['client', 'getname'],
    ['info', 'keyspace'],
    ['get'], ['nosuchcommand', 'a', 'b'],
    ['lrange', 'l', '0', '-1'], ['lrange', 'nolist', '0', '-1'],
    ['eval', "return {1,{2,'a',{}},{},{{'x'}},-5}", '0'],
    ['eval', "return {err='My error'}", '0'],
    ['debug', 'protocol', 'map'], ['debug', 'protocol', 'double'],
    ['-3', 'ping'], ['-3', 'get', 'nokey'], ['-3', 'get', 'bin'],
    ['-3', 'mget', 's', 'nokey'], ['-3', 'config', 'get', 'maxmemory'],
    ['-3', 'command', 'info', 'get'], ['-3', 'hgetall', 'nohash'],
    ['-3', 'incrbyfloat', 'n', '1.5'], ['-3', 'nosuchcommand'],
    ['-3', 'eval',
     "redis.setresp(3); return {map={a=1,b={1,2,{map={c=3}}},d={}}}", '0'],
    ['-3', 'eval', 'redis.setresp(3); return {double=3.5}', '0'],
    ['-3', 'eval', 'redis.setresp(3); return {set={a=true}}', '0'],
] + [['-3', 'debug', 'protocol', t] for t in (
    'string', 'integer', 'double', 'null', 'array', 'set', 'map', 'push',
    'verbatim', 'true', 'false')]


class CliTests:
    """The suite; subclasses give the server (start_server)."""

    server = None
    unix = None

    @classmethod
    def setUpClass(cls):
        if not CLI or not os.access(CLI, os.X_OK):
            raise RuntimeError('RDS_CLI does not name task-redis-cli: %r' % CLI)
        if not REDIS_CLI:
            raise unittest.SkipTest('redis-cli is not installed')
        cls.server = cls.start_server()
        cls.r = redis.Redis(host=cls.server.host, port=cls.server.port,
                            socket_timeout=harness.IO_TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.r.close()
            cls.server.stop()

    def conn(self):
        return ['-h', self.server.host, '-p', str(self.server.port)]

    def seed(self):
        r = self.r
        r.flushall()
        r.set('s', 'hello')
        r.set('bin', BIN)
        r.set('e', '')
        r.set('n', '42')
        for i in range(1, 13):
            r.set('k%d' % i, 'v%d' % i)
        try:
            r.rpush('l', 'a', 'b c', '')
        except redis.exceptions.ResponseError:
            pass  # task-redis-server has no lists: both print its error

    def ours(self, *args, seed=False):
        if seed:
            self.seed()
        return run(CLI, self.conn() + list(args))

    def theirs(self, *args, seed=False):
        if seed:
            self.seed()
        return run(REDIS_CLI, self.conn() + list(args))

    # ---- The same output as redis-cli --------------------------------------

    def compare(self, ours_mode, their_mode, cmd):
        a = self.ours(*(ours_mode + cmd), seed=True)
        b = self.theirs(*(their_mode + cmd), seed=True)
        what = '%s %s' % (' '.join(ours_mode) or '(default)', cmd)
        self.assertEqual(a.stdout, b.stdout, what)
        self.assertEqual(a.returncode, b.returncode, what)
        self.assertEqual(a.returncode, 0, what)
        self.assertEqual(a.stderr, b'', what)

    def test_format_matches_redis_cli_no_raw(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                self.compare([], ['--no-raw'], cmd)

    def test_no_raw_option_is_the_default(self):
        for cmd in (['mget', 's', 'nokey'], ['-3', 'debug', 'protocol', 'map']):
            self.compare(['--no-raw'], ['--no-raw'], cmd)

    def test_format_matches_redis_cli_raw(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                self.compare(['--raw'], ['--raw'], cmd)

    def test_pinned_formats(self):
        """A few outputs written out, so that a change in redis-cli (or
        both programs going wrong the same way) shows."""
        self.seed()
        self.assertEqual(self.ours('incr', 'n').stdout, b'(integer) 43\n')
        self.assertEqual(self.ours('get', 'bin').stdout,
                         b'"\\x00\\x01\\x7f\\xff\\t\\r\\n\\a\\b\\"\\\\'
                         b'\\xc3\\xa9 end"\n')
        self.assertEqual(self.ours('mget', 's', 'nokey').stdout,
                         b'1) "hello"\n2) (nil)\n')
        self.assertEqual(self.ours('lrange', 'nolist', '0', '-1').stdout[:1],
                         b'(')
        out = self.ours('mget', *['k%d' % i for i in range(1, 11)]).stdout
        self.assertTrue(out.startswith(b' 1) "v1"\n 2) "v2"\n'), out)
        self.assertTrue(out.endswith(b'10) "v10"\n'), out)
        self.assertTrue(self.ours('nosuchcommand').stdout.startswith(
            b"(error) ERR unknown command 'nosuchcommand'"))
        self.assertEqual(self.ours('-3', 'get', 'nokey').stdout, b'(nil)\n')
        self.assertEqual(self.ours('--raw', 'get', 'nokey').stdout, b'\n')
        self.assertEqual(self.ours('--raw', 'mget', 's', 'e').stdout,
                         b'hello\n\n')

    # ---- mini-redis-cli's commands ----------------------------------------

    def test_get_on_an_empty_server_prints_nil(self):
        self.r.flushall()
        p = run(CLI, self.conn() + ['get', 'foo'])
        self.assertEqual(p.stdout, b'(nil)\n')
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stderr, b'')

    def test_set_with_expiry_in_ms(self):
        self.r.flushall()
        p = self.ours('set', 'foo', 'bar', '100000')
        self.assertEqual((p.stdout, p.returncode), (b'OK\n', 0))
        ttl = self.r.pttl('foo')
        self.assertTrue(0 < ttl <= 100000, ttl)
        self.assertEqual(self.ours('get', 'foo').stdout, b'"bar"\n')
        p = self.ours('set', 'plain', 'v')
        self.assertEqual(p.stdout, b'OK\n')
        self.assertEqual(self.r.pttl('plain'), -1)

    def test_ping_and_publish(self):
        self.assertEqual(self.ours('ping').stdout, b'PONG\n')
        self.assertEqual(self.ours('ping', 'hi there').stdout,
                         b'"hi there"\n')
        self.assertEqual(self.ours('publish', 'nobody', 'x').stdout,
                         b'(integer) 0\n')

    def subscriptions(self, pattern, name):
        if pattern:
            return self.r.pubsub_numpat()
        return dict(self.r.pubsub_numsub(name)).get(name.encode(), 0)

    def wait_subscriptions(self, pattern, name, want):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.subscriptions(pattern, name) == want:
                return
            time.sleep(0.01)
        self.fail('%s: %d subscriptions, not %d' % (
            name, self.subscriptions(pattern, name), want))

    def subscribe_session(self, prog, opts, kind, names, sig, publish,
                          expect_end):
        """Run @prog @opts @kind @names, wait until the server has the
        subscription, publish @publish, wait for @expect_end in the
        output, send @sig.  Returns (exit status, stdout, stderr)."""
        pattern = kind == 'psubscribe'
        # The previous session's connection is gone first.
        self.wait_subscriptions(pattern, names[0], 0)
        p = subprocess.Popen([prog] + self.conn() + opts + [kind] + names,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=default_signals)
        try:
            rd = Reader(p)
            self.wait_subscriptions(pattern, names[0], 1)
            for ch, msg in publish:
                self.assertEqual(self.r.publish(ch, msg), 1)
            self.assertTrue(rd.wait_for(expect_end), rd.buf)
            p.send_signal(sig)
            rc = p.wait(WAIT)
            out = rd.finish()
            err = p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        return rc, out, err

    def test_subscribe_prints_messages_until_sigint(self):
        pub = [('ch1', b'hello'), ('ch2', b'bin\x00ary "q"\n')]
        end = b'"bin\\x00ary \\"q\\"\\n"\n'
        names = ['ch1', 'ch2', 'ch1']
        rc, out, err = self.subscribe_session(CLI, [], 'subscribe', names,
                                              signal.SIGINT, pub, end)
        self.assertEqual(rc, 0, err)
        expect = (b'Reading messages... (press Ctrl-C to quit)\n'
                  b'1) "subscribe"\n2) "ch1"\n3) (integer) 1\n'
                  b'1) "subscribe"\n2) "ch2"\n3) (integer) 2\n'
                  b'1) "subscribe"\n2) "ch1"\n3) (integer) 2\n'
                  b'1) "message"\n2) "ch1"\n3) "hello"\n'
                  b'1) "message"\n2) "ch2"\n3) "bin\\x00ary \\"q\\"\\n"\n')
        self.assertEqual(out, expect)
        # redis-cli prints the same (it dies of the SIGINT: status -2).
        _, out2, _ = self.subscribe_session(REDIS_CLI, ['--no-raw'],
                                            'subscribe', names,
                                            signal.SIGINT, pub, end)
        self.assertEqual(out2, expect)

    def test_psubscribe_resp3_raw_until_sigterm(self):
        pub = [('news.uk', b'm1')]
        for extra in (['-3'], ['--raw'], ['-3', '--raw']):
            with self.subTest(extra=extra):
                rc, out, err = self.subscribe_session(
                    CLI, extra, 'psubscribe', ['news.*'], signal.SIGTERM,
                    pub, b'm1')
                self.assertEqual(rc, 0, err)
                their = extra + ([] if '--raw' in extra else ['--no-raw'])
                _, out2, _ = self.subscribe_session(
                    REDIS_CLI, their, 'psubscribe', ['news.*'],
                    signal.SIGTERM, pub, b'm1')
                self.assertEqual(out, out2)
                self.assertIn(b'pmessage', out)

    def test_subscribe_stops_when_stdout_is_gone(self):
        """`task-redis-cli subscribe ch | head -1`: once the reader is
        gone, the next message ends the CLI (redis-cli dies of SIGPIPE)
        instead of it running on, unheard, for ever."""
        self.wait_subscriptions(False, 'gone', 0)
        r, w = os.pipe()
        p = subprocess.Popen([CLI] + self.conn() + ['subscribe', 'gone'],
                             stdin=subprocess.DEVNULL, stdout=w,
                             stderr=subprocess.DEVNULL,
                             preexec_fn=default_signals)
        os.close(w)
        try:
            self.wait_subscriptions(False, 'gone', 1)
            os.close(r)
            deadline = time.monotonic() + WAIT
            while p.poll() is None and time.monotonic() < deadline:
                self.r.publish('gone', 'x')
                time.sleep(0.05)
            self.assertIsNotNone(p.poll(), 'still running')
            self.assertEqual(p.returncode, 1)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_subscribe_without_channels_prints_the_error(self):
        a = self.ours('subscribe')
        b = self.theirs('--no-raw', 'subscribe')
        self.assertEqual(a.stdout, b.stdout)
        self.assertIn(b'(error) ERR wrong number of arguments', a.stdout)
        self.assertEqual(a.returncode, 0)

    # ---- Options and exit statuses ----------------------------------------

    def test_error_reply_exit_status_as_redis_cli(self):
        a, b = self.ours('nosuchcommand'), self.theirs('nosuchcommand')
        self.assertEqual(a.returncode, 0)
        self.assertEqual(b.returncode, 0)
        a = self.ours('-e', 'nosuchcommand')
        b = self.theirs('-e', 'nosuchcommand')
        self.assertEqual(a.returncode, 1)
        self.assertEqual(b.returncode, 1)
        self.assertEqual(a.stdout, b'')
        self.assertEqual(a.stderr, b.stderr)

    def test_db_and_url(self):
        self.r.flushall()
        self.assertEqual(self.ours('-n', '2', 'set', 'k', 'in2').stdout,
                         b'OK\n')
        self.assertEqual(self.ours('-n', '2', 'get', 'k').stdout, b'"in2"\n')
        self.assertEqual(self.ours('get', 'k').stdout, b'(nil)\n')
        url = 'redis://%s:%d/2' % (self.server.host, self.server.port)
        p = run(CLI, ['-u', url, 'get', 'k'])
        self.assertEqual((p.stdout, p.returncode), (b'"in2"\n', 0))
        # Options apply in order: -u after -p wins, as in redis-cli.
        p = run(CLI, ['-p', str(closed_port()), '-u', url, 'get', 'k'])
        self.assertEqual(p.stdout, b'"in2"\n')

    def test_password(self):
        self.r.config_set('requirepass', 'pw')
        try:
            r = self.conn()
            a = run(CLI, r + ['get', 'x'])
            b = run(REDIS_CLI, r + ['--no-raw', 'get', 'x'])
            self.assertEqual(a.stdout, b'(error) NOAUTH Authentication '
                             b'required.\n')
            self.assertEqual(a.stdout, b.stdout)
            p = run(CLI, r + ['-a', 'pw', 'get', 'x'])
            self.assertEqual((p.stdout, p.returncode), (b'(nil)\n', 0))
            url = 'redis://:pw@%s:%d' % (self.server.host, self.server.port)
            p = run(CLI, ['-u', url, 'ping'])
            self.assertEqual(p.stdout, b'PONG\n')
            p = run(CLI, r + ['-a', 'wrong', 'get', 'x'])
            self.assertEqual(p.returncode, 1)
            self.assertIn(b'AUTH failed', p.stderr)
            self.assertEqual(p.stdout, b'')
        finally:
            admin = redis.Redis(host=self.server.host, port=self.server.port,
                                password='pw',
                                socket_timeout=harness.IO_TIMEOUT)
            admin.config_set('requirepass', '')
            admin.close()
            self.r.close()  # its connection must AUTH again: a new one
            type(self).r = redis.Redis(host=self.server.host,
                                       port=self.server.port,
                                       socket_timeout=harness.IO_TIMEOUT)


class CliAgainstTaskServer(CliTests, unittest.TestCase):
    @classmethod
    def start_server(cls):
        return harness.Server()


class CliAgainstRedisServer(CliTests, unittest.TestCase):
    @classmethod
    def start_server(cls):
        if not REDIS_SERVER:
            raise unittest.SkipTest('redis-server is not installed')
        return RedisServer()

    def test_unix_socket(self):
        p = run(CLI, ['-s', self.server.unix, 'ping'])
        self.assertEqual((p.stdout, p.returncode), (b'PONG\n', 0))
        p = run(CLI, ['-s', self.server.unix, '-3', 'debug', 'protocol',
                      'bignum'])
        # A deliberate difference: redis-cli 7.0 cannot print it.
        self.assertEqual(p.stdout,
                         b'(big number) 1234567999999999999999999999999999999\n')
        p = run(CLI, ['-s', self.server.unix, '-3', 'debug', 'protocol',
                      'attrib'])
        self.assertEqual(p.stdout,
                         b'"Some real reply following the attribute"\n')


class CliWithoutServer(unittest.TestCase):
    """Arguments and connection failures: no server needed."""

    def test_usage_and_exit_2_on_bad_arguments(self):
        for args in ([], ['-p'], ['--bogus', 'get', 'x'],
                     ['-p', 'notaport', 'ping'], ['-p', '70000', 'ping'],
                     ['-n', 'x', 'ping'], ['-u', 'http://x', 'ping'],
                     ['-h'], ['-3']):
            with self.subTest(args=args):
                p = run(CLI, args)
                self.assertEqual(p.returncode, 2)
                self.assertIn(b'Usage: task-redis-cli', p.stderr)
                self.assertEqual(p.stdout, b'')

    def test_help_and_version(self):
        p = run(CLI, ['--help'])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b'Usage: task-redis-cli', p.stdout)
        p = run(CLI, ['--version'])
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b'task-redis-cli '))

    def test_connection_refused(self):
        port = str(closed_port())
        a = run(CLI, ['-p', port, 'ping'])
        self.assertEqual(a.returncode, 1)
        self.assertEqual(a.stdout, b'')
        self.assertEqual(a.stderr, b'Could not connect to Redis at '
                         b'127.0.0.1:%s: Connection refused\n' % port.encode())
        if REDIS_CLI:
            b = run(REDIS_CLI, ['-p', port, 'ping'])
            self.assertEqual(a.stderr, b.stderr)
            self.assertEqual(a.returncode, b.returncode)

    def test_missing_unix_socket(self):
        path = '/nonexistent/redis.sock'
        a = run(CLI, ['-s', path, 'ping'])
        self.assertEqual(a.returncode, 1)
        self.assertEqual(a.stderr, b'Could not connect to Redis at '
                         b'/nonexistent/redis.sock: No such file or '
                         b'directory\n')
        if REDIS_CLI:
            self.assertEqual(a.stderr, run(REDIS_CLI, ['-s', path,
                                                       'ping']).stderr)

    def test_sigint_ends_a_subscribe_the_server_never_confirms(self):
        """A server that accepts and never answers: ^C ends the wait for
        the confirmation (redis-cli dies of it; a handler that only set
        a flag kept task-redis-cli waiting for ever)."""
        with socket.socket() as lsn:
            lsn.bind(('127.0.0.1', 0))
            lsn.listen()
            port = str(lsn.getsockname()[1])
            for prog in [CLI] + ([REDIS_CLI] if REDIS_CLI else []):
                with self.subTest(prog=prog):
                    p = subprocess.Popen([prog, '-p', port, 'subscribe', 'ch'],
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL,
                                         preexec_fn=default_signals)
                    lsn.settimeout(WAIT)
                    c, _ = lsn.accept()
                    try:
                        c.settimeout(WAIT)
                        self.assertIn(b'SUBSCRIBE', c.recv(4096).upper())
                        p.send_signal(signal.SIGINT)
                        rc = p.wait(WAIT)
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                        c.close()
                    self.assertEqual(rc, -signal.SIGINT)

    def test_unknown_host(self):
        p = run(CLI, ['-h', 'no-such-host.invalid', 'ping'])
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.startswith(
            b'Could not connect to Redis at no-such-host.invalid:6379: '),
            p.stderr)


if __name__ == '__main__':
    unittest.main(verbosity=2)
