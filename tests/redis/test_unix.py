"""test_unix.py - the Unix socket listener: `unixsocket PATH` and
`unixsocketperm OCTAL`, from the command line and the config file, next
to the TCP listeners, as Redis 7.0 has them.

What Redis 7.0.15 does, and so what is pinned here: the socket file is
created at start (a file already there is replaced), chmod'ed to
unixsocketperm when that is not 0, announced with "The server is now
ready to accept connections at PATH", and removed at shutdown ("Removing
the unix socket file."); its clients show as addr=PATH:0 laddr=PATH:0;
both options are immutable at run time; a bad mode or an unusable path
stops the start with an error.
"""

import os
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from harness import mbulk


def run_server(args, cwd, timeout=10):
    """Run the server to completion (it must exit by itself): (exit
    status, output)."""
    p = subprocess.run([harness.SERVER, '--port', '0'] + args, cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors='replace')


def wait_log(srv, text, timeout=5.0):
    """The server's log once it holds @text (the harness returns at the
    TCP ready line: lines after it may still be on their way)."""
    deadline = time.monotonic() + timeout
    while text not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    return srv.log_text()


def unix_client(path):
    return harness.redis.Redis(unix_socket_path=path,
                               socket_timeout=harness.IO_TIMEOUT,
                               socket_connect_timeout=harness.IO_TIMEOUT)


def unix_raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(harness.IO_TIMEOUT)
    s.connect(path)
    return s


class UnixSocketTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='rds-unix-')
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, 'task.sock')

    def start(self, *args):
        srv = harness.Server('--unixsocket', self.path, *args)
        self.addCleanup(self.stop, srv)
        return srv

    def stop(self, srv):
        self.assertEqual(srv.stop(), 0, srv.log_text())
        self.assertFalse(os.path.exists(self.path))

    def test_listens_on_tcp_and_unix(self):
        srv = self.start('--unixsocketperm', '700')
        log = wait_log(srv, 'The server is now ready')
        # The TCP line as before (the harness found the port in it), and
        # Redis 7.0's line for the socket, after it.
        self.assertRegex(log, r'Ready to accept connections tcp on 127\.0\.0\.1:%d\b'
                         % srv.port)
        self.assertIn('The server is now ready to accept connections at %s\n'
                      % self.path, log)
        self.assertLess(log.index('Ready to accept connections tcp'),
                        log.index('The server is now ready'))
        st = os.stat(self.path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)

        u = unix_client(self.path)
        t = srv.client()
        self.assertTrue(u.ping())
        self.assertTrue(u.set('k', b'over unix\x00\r\n'))
        self.assertEqual(t.get('k'), b'over unix\x00\r\n')
        t.set('k2', 'over tcp')
        self.assertEqual(u.get('k2'), b'over tcp')
        # A big value and a pipeline go through whole.
        big = os.urandom(3 << 20)
        u.set('big', big)
        self.assertEqual(u.get('big'), big)
        p = u.pipeline(transaction=False)
        for i in range(1000):
            p.incr('n')
        self.assertEqual(p.execute()[-1], 1000)
        u.close()
        t.close()

    def test_unix_clients_in_client_list(self):
        srv = self.start()
        u = unix_client(self.path)
        u.client_setname('viaunix')
        info = u.execute_command('CLIENT', 'INFO').decode()
        self.assertIn(' addr=%s:0 laddr=%s:0 ' % (self.path, self.path), info)
        t = srv.client()
        t.client_setname('viatcp')
        listing = t.execute_command('CLIENT', 'LIST').decode()
        lines = {l.split(' name=')[1].split(' ')[0]: l
                 for l in listing.splitlines() if l}
        self.assertIn('addr=%s:0 laddr=%s:0' % (self.path, self.path),
                      lines['viaunix'])
        self.assertRegex(lines['viatcp'], r' addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:%d '
                         % srv.port)
        # Redis's CLIENT_UNIX_SOCKET flag: U, after P for a subscriber.
        self.assertIn(' flags=U ', info)
        self.assertIn(' flags=U ', lines['viaunix'])
        self.assertIn(' flags=N ', lines['viatcp'])
        sub = unix_raw(self.path)
        sub.sendall(mbulk('CLIENT', 'SETNAME', 'unixsub') + mbulk('SUBSCRIBE', 'ch'))
        harness.read_some(sub)
        listing = t.execute_command('CLIENT', 'LIST').decode()
        self.assertRegex(listing, r'name=unixsub [^\n]* flags=PU ')
        sub.close()
        # CLIENT KILL ADDR finds it by that address.
        self.assertEqual(t.execute_command('CLIENT', 'KILL', 'ADDR',
                                           '%s:0' % self.path), 1)
        t.close()
        u.close()

    def test_config_get_and_immutable(self):
        srv = self.start('--unixsocketperm', '0755')
        t = srv.client()
        self.assertEqual(t.config_get('unixsocket'), {'unixsocket': self.path})
        self.assertEqual(t.config_get('unixsocketperm'), {'unixsocketperm': '755'})
        for name, value in (('unixsocket', '/tmp/x.sock'), ('unixsocketperm', '777')):
            with self.assertRaises(harness.redis.ResponseError) as cm:
                t.config_set(name, value)
            self.assertEqual(str(cm.exception),
                             "CONFIG SET failed (possibly related to argument "
                             "'%s') - can't set immutable config" % name)
        self.assertEqual(t.config_get('unixsocketperm'), {'unixsocketperm': '755'})
        t.close()

    def test_defaults_without_a_socket(self):
        srv = harness.Server()
        try:
            t = srv.client()
            self.assertEqual(t.config_get('unixsocket*'),
                             {'unixsocket': '', 'unixsocketperm': '0'})
            self.assertNotIn('ready to accept connections at', srv.log_text())
            t.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_shutdown_removes_the_file(self):
        for how in ('SIGTERM', 'SHUTDOWN'):
            srv = harness.Server('--unixsocket', self.path)
            self.assertTrue(os.path.exists(self.path))
            if how == 'SHUTDOWN':
                s = unix_raw(self.path)
                s.sendall(mbulk('SHUTDOWN'))
                self.assertTrue(harness.is_closed(s))
                s.close()
                srv.proc.wait(10)
            self.assertEqual(srv.stop(), 0, srv.log_text())
            self.assertFalse(os.path.exists(self.path), how)
            self.assertIn('Removing the unix socket file.',
                          wait_log(srv, 'Removing'))

    def test_a_stale_file_is_replaced(self):
        with open(self.path, 'w') as f:
            f.write('left over')
        srv = self.start()
        self.assertTrue(stat.S_ISSOCK(os.stat(self.path).st_mode))
        s = unix_raw(self.path)
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        s.close()

    def test_relative_path_and_config_file(self):
        conf = os.path.join(self.tmp.name, 'redis.conf')
        with open(conf, 'w') as f:
            f.write('unixsocket rel.sock\nunixsocketperm 770\n')
        # The config file first, as Redis wants it (then --port 0).
        srv = harness.Server(conf, '--port', '0')
        try:
            # Relative to the server's working directory, as in Redis.
            path = os.path.join(srv.dir.name, 'rel.sock')
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o770)
            self.assertIn('ready to accept connections at rel.sock',
                          wait_log(srv, 'rel.sock'))
            u = unix_client(path)
            self.assertTrue(u.ping())
            self.assertEqual(u.config_get('unixsocket'), {'unixsocket': 'rel.sock'})
            u.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_bad_values_stop_the_start(self):
        d = self.tmp.name
        cases = [
            (['--unixsocket', self.path, '--unixsocketperm', 'abc'],
             "argument couldn't be parsed as an octal number"),
            (['--unixsocket', self.path, '--unixsocketperm', '7777'],
             'argument must be between 0 and 777 inclusive'),
            (['--unixsocket', self.path, '--unixsocketperm', '8'],
             "argument couldn't be parsed as an octal number"),
            (['--unixsocket', '/' + 'x' * 120],
             'argument is too long'),
            (['--unixsocket', os.path.join(d, 'no', 'such', 'dir', 's.sock')],
             'Failed opening Unix socket: bind:'),
        ]
        for args, want in cases:
            rc, out = run_server(args, cwd=d)
            self.assertEqual(rc, 1, out)
            self.assertIn(want, out)
            self.assertFalse(os.path.exists(self.path))
            if 'Unix socket' in want:
                # Redis logs only the socket's failure: no TCP line.
                self.assertNotIn('(TCP), aborting', out)

    def test_tcp_failure_still_says_tcp(self):
        """With a Unix socket configured, a TCP port in use is still the
        TCP failure, logged with Redis's TCP line, and no socket file is
        left behind."""
        busy = socket.socket()
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        p = subprocess.run([harness.SERVER, '--port', str(port), '--bind', '127.0.0.1',
                            '--unixsocket', self.path], cwd=self.tmp.name,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        out = p.stdout.decode(errors='replace')
        self.assertEqual(p.returncode, 1, out)
        self.assertIn('Failed listening on port %d (TCP), aborting.' % port, out)
        self.assertFalse(os.path.exists(self.path))


if __name__ == '__main__':
    harness.main()
