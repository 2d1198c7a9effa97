"""test_lifecycle.py - the server's life: start-up (the log lines harness.py
and people read), SIGTERM/SIGINT and SHUTDOWN (graceful: replies in flight
are delivered, exit status 0, promptly even with idle clients whose reads
are pending in io_uring), maxclients, the idle timeout, protected mode and
the --help/--version exits."""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import mbulk


def run_server(args, timeout=10):
    """Run the server binary to completion (it must exit by itself):
    returns (exit status, stdout + stderr)."""
    with tempfile.TemporaryDirectory(prefix='rds-test-') as d:
        p = subprocess.run([harness.SERVER] + args, cwd=d, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors='replace')


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class StartupTest(unittest.TestCase):

    def test_ready_line_and_startup_line(self):
        srv = harness.Server()
        try:
            log = srv.log_text()
            self.assertRegex(log, r'Ready to accept connections tcp on 127\.0\.0\.1:%d\b'
                             % srv.port)
            self.assertNotEqual(srv.port, 0)
            self.assertIn('7.0.15', log)
            self.assertIn('pid=%d' % srv.proc.pid, log)
            self.assertRegex(log, r'workers=\d+')
            self.assertRegex(log, r'shards=\d+')
            self.assertIn('I/O backend io_uring', log)
            s = srv.raw()
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_workers_and_shards_options(self):
        srv = harness.Server('--workers', '1', '--shards', '4')
        try:
            self.assertIn('workers=1', srv.log_text())
            self.assertIn('shards=4', srv.log_text())
            s = srv.raw()
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_several_bind_addresses(self):
        # "-" marks an address optional: one this host lacks is skipped.
        srv = harness.Server('--bind', '127.0.0.1 -::1 -192.0.2.1',
                             '--protected-mode', 'no')
        try:
            log = srv.log_text()
            self.assertIn('Ready to accept connections tcp on 127.0.0.1:%d' % srv.port, log)
            if '[::1]:%d' % srv.port in log:
                s = socket.create_connection(('::1', srv.port), timeout=5)
                self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
                s.close()
            self.assertNotIn('192.0.2.1:%d' % srv.port, log)
        finally:
            self.assertEqual(srv.stop(), 0)
        # Not optional: the server refuses to start.
        rc, out = run_server(['--port', '0', '--bind', '127.0.0.1 192.0.2.1',
                              '--protected-mode', 'no'])
        self.assertEqual(rc, 1, out)
        self.assertIn('Could not create server TCP listening socket 192.0.2.1', out)

    def test_help_and_version(self):
        rc, out = run_server(['--help'])
        self.assertEqual(rc, 0, out)
        self.assertIn('Usage', out)
        rc, out = run_server(['--version'])
        self.assertEqual(rc, 0, out)
        self.assertIn('7.0.15', out)

    def test_bad_option_exits_1(self):
        rc, out = run_server(['--no-such-option', 'x'])
        self.assertEqual(rc, 1, out)
        self.assertIn('FATAL CONFIG', out)

    def test_port_in_use(self):
        srv = harness.Server()
        try:
            rc, out = run_server(['--port', str(srv.port)])
            self.assertEqual(rc, 1, out)
            self.assertIn('Could not create server TCP listening socket', out)
        finally:
            self.assertEqual(srv.stop(), 0)


class ProtectedModeTest(unittest.TestCase):

    def test_refuses_non_loopback_without_password(self):
        rc, out = run_server(['--port', '0', '--bind', '0.0.0.0'])
        self.assertNotEqual(rc, 0, out)
        self.assertIn('protected mode', out)
        self.assertIn('0.0.0.0', out)
        self.assertNotIn('Ready to accept', out)
        rc, out = run_server(['--port', '0', '--bind', '127.0.0.1 *'])
        self.assertNotEqual(rc, 0, out)

    def test_protected_mode_no_allows_it(self):
        srv = harness.Server('--bind', '0.0.0.0', '--protected-mode', 'no')
        try:
            self.assertIn('0.0.0.0:%d' % srv.port, srv.log_text())
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_a_password_allows_it(self):
        srv = harness.Server('--bind', '0.0.0.0', '--requirepass', 'pw')
        try:
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'),
                             b'-NOAUTH Authentication required.\r\n')
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)


class ShutdownTest(unittest.TestCase):

    def stop_with_idle_clients(self, sig):
        srv = harness.Server()
        socks = [srv.raw() for _ in range(5)]
        for s in socks:
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        # One more client in the middle of a request.
        half = srv.raw()
        half.sendall(b'*2\r\n$4\r\nECHO\r\n$5\r\nab')
        t0 = time.monotonic()
        srv.proc.send_signal(sig)
        rc = srv.proc.wait(10)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, srv.log_text())
        # The pending reads ended at once (not the 10 s drain limit).
        self.assertLess(elapsed, 3.0, srv.log_text())
        for s in socks + [half]:
            self.assertTrue(harness.is_closed(s, timeout=2))
            s.close()
        name = 'SIGINT' if sig == signal.SIGINT else 'SIGTERM'
        self.assertIn('Received %s scheduling shutdown' % name, srv.log_text())
        srv.stop()

    def test_sigterm(self):
        self.stop_with_idle_clients(signal.SIGTERM)

    def test_sigint(self):
        self.stop_with_idle_clients(signal.SIGINT)

    def test_no_clients(self):
        srv = harness.Server()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_pipeline_in_flight_is_answered(self):
        """10,000 pipelined requests then SIGTERM at once: the client gets
        whole replies only, in order, for a prefix of its requests, then
        EOF; the server exits 0."""
        srv = harness.Server()
        s = srv.raw()
        has_set = not harness.roundtrip(s, mbulk('SET', 'k', 'v')).startswith(b'-ERR unknown')
        n = 10000
        if has_set:
            req = b''.join(mbulk('SET', 'key:%d' % i, 'v') for i in range(n))
            unit = b'+OK\r\n'
        else:
            req = b''.join(mbulk('PING') for i in range(n))
            unit = b'+PONG\r\n'

        def send():
            try:
                s.sendall(req)
            except OSError:
                pass  # the server may close before it has read everything

        t = threading.Thread(target=send)
        t.start()
        srv.proc.send_signal(signal.SIGTERM)
        got = harness.read_some(s, timeout=10, until_close=True)
        t.join(10)
        rc = srv.proc.wait(10)
        self.assertEqual(rc, 0, srv.log_text())
        self.assertEqual(len(got) % len(unit), 0, got[-50:])
        self.assertEqual(got, unit * (len(got) // len(unit)))
        s.close()
        srv.stop()

    def test_replies_of_a_running_batch_arrive(self):
        """A batch that has started executing is answered in full."""
        srv = harness.Server()
        s = srv.raw()
        n = 2000
        req = b''.join(mbulk('ECHO', 'x' * 1000) for _ in range(n))
        unit = b'$1000\r\n' + b'x' * 1000 + b'\r\n'
        s.sendall(req[:len(req) // 2])
        # Wait until some replies arrive: the server is in the middle.
        first = s.recv(len(unit))
        self.assertTrue(first)
        srv.proc.send_signal(signal.SIGTERM)
        got = first + harness.read_some(s, timeout=10, until_close=True)
        self.assertEqual(srv.proc.wait(10), 0)
        self.assertGreater(len(got), 0)
        self.assertEqual(len(got) % len(unit), 0)
        self.assertEqual(got, unit * (len(got) // len(unit)))
        s.close()
        srv.stop()

    def test_subscriber_replies_of_a_running_batch_arrive(self):
        """The same for a RESP3 subscriber, whose replies go out through
        its pub/sub writer: the shutdown waits for the writer to send what
        was queued (it used to free the runtime as soon as the connection
        task ended, cutting the replies short)."""
        srv = harness.Server()
        other = srv.raw()
        value = b'v' * (1 << 20)
        self.assertEqual(harness.roundtrip(other, mbulk('SET', 'big', value)), b'+OK\r\n')
        s = srv.raw()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(mbulk('HELLO', '3'))
        hello = harness.read_some(s)
        self.assertTrue(hello.startswith(b'%'), hello[:100])
        s.sendall(mbulk('SUBSCRIBE', 'ch'))
        self.assertEqual(harness.read_some(s), b'>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n')
        n = 8
        unit = b'$%d\r\n' % len(value) + value + b'\r\n'
        s.sendall(mbulk('GET', 'big') * n)
        first = s.recv(len(unit))  # the batch is executing (all queued)
        self.assertTrue(first)
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the client is slow: the server is already exiting
        got = first + harness.read_some(s, timeout=10, until_close=True)
        self.assertEqual(srv.proc.wait(10), 0, srv.log_text())
        self.assertEqual(len(got), n * len(unit))
        self.assertEqual(got, unit * n)
        s.close()
        other.close()
        srv.stop()

    def test_shutdown_command(self):
        srv = harness.Server()
        other = srv.raw()
        self.assertEqual(harness.roundtrip(other, b'PING\r\n'), b'+PONG\r\n')
        s = srv.raw()
        s.sendall(mbulk('SHUTDOWN', 'NOSAVE'))
        got = harness.read_some(s, timeout=10, until_close=True)
        if got.startswith(b'-ERR unknown'):
            srv.stop()
            self.skipTest('SHUTDOWN is not implemented yet')
        self.assertEqual(got, b'')  # no reply: the connection closes
        self.assertEqual(srv.proc.wait(10), 0, srv.log_text())
        self.assertTrue(harness.is_closed(other, timeout=2))
        srv.reader.join(5)  # every log line has been read
        self.assertEqual(srv.log_text().count('User requested shutdown'), 1)
        s.close()
        other.close()
        srv.stop()


class MaxClientsTest(unittest.TestCase):

    def test_maxclients(self):
        srv = harness.Server('--maxclients', '5')
        try:
            socks = [srv.raw() for _ in range(5)]
            for s in socks:
                self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            extra = srv.raw()
            got = harness.read_some(extra, timeout=5, until_close=True)
            self.assertEqual(got, b'-ERR max number of clients reached\r\n')
            extra.close()
            # The others are not affected.
            for s in socks:
                self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            # One leaves: a new client gets in (once the server has seen
            # the close).
            socks.pop().close()

            def gets_in():
                c = srv.raw()
                try:
                    c.sendall(b'PING\r\n')
                    return harness.read_some(c, timeout=2) == b'+PONG\r\n'
                finally:
                    c.close()
            self.assertTrue(wait_for(gets_in, timeout=5))
            for s in socks:
                s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_rejected_connections_counted(self):
        srv = harness.Server('--maxclients', '1')
        try:
            a = srv.raw()
            self.assertEqual(harness.roundtrip(a, b'PING\r\n'), b'+PONG\r\n')
            for _ in range(3):
                b = srv.raw()
                self.assertEqual(harness.read_some(b, timeout=5, until_close=True),
                                 b'-ERR max number of clients reached\r\n')
                b.close()
            info = harness.roundtrip(a, mbulk('INFO', 'stats'))
            if info.startswith(b'-ERR unknown'):
                self.skipTest('INFO is not implemented yet')
            self.assertIn(b'rejected_connections:3', info)
            a.close()
        finally:
            self.assertEqual(srv.stop(), 0)


class LowFileLimitTest(unittest.TestCase):
    """With a low RLIMIT_NOFILE the server lowers maxclients to fit (as
    Redis does) and refuses the clients beyond it cleanly."""

    def test_low_ulimit_lowers_maxclients(self):
        with tempfile.TemporaryDirectory(prefix='rds-test-') as d:
            wrapper = os.path.join(d, 'low-nofile')
            with open(wrapper, 'w') as f:
                f.write('#!/bin/sh\nulimit -n 64 || exit 99\nexec "$RDS_REAL_SERVER" "$@"\n')
            os.chmod(wrapper, 0o755)
            real = harness.SERVER
            harness.SERVER = wrapper
            try:
                srv = harness.Server(env={'RDS_REAL_SERVER': real})
            finally:
                harness.SERVER = real
            try:
                log = srv.log_text()
                if 'Increased maximum number of open files' in log:
                    self.skipTest('the server may raise its hard limit here')
                self.assertIn('maxclients has been reduced to 32', log)
                socks = []
                for _ in range(32):
                    s = srv.raw()
                    s.sendall(b'PING\r\n')
                    self.assertEqual(s.recv(7), b'+PONG\r\n')
                    socks.append(s)
                extra = srv.raw()
                self.assertEqual(harness.read_some(extra, timeout=5, until_close=True),
                                 b'-ERR max number of clients reached\r\n')
                extra.close()
                for s in socks:
                    s.close()
            finally:
                self.assertEqual(srv.stop(), 0)


class IdleTimeoutTest(unittest.TestCase):

    def test_idle_client_closed_active_kept(self):
        srv = harness.Server('--timeout', '1')
        try:
            idle = srv.raw()
            active = srv.raw()
            t0 = time.monotonic()  # the last interaction is at most now
            idle.sendall(b'PING\r\n')
            self.assertEqual(idle.recv(100), b'+PONG\r\n')
            stop = threading.Event()
            errors = []

            def keep_busy():
                try:
                    while not stop.is_set():
                        if harness.roundtrip(active, b'PING\r\n', timeout=2) != b'+PONG\r\n':
                            errors.append('bad reply')
                            return
                        time.sleep(0.25)
                except OSError as e:
                    errors.append(repr(e))

            t = threading.Thread(target=keep_busy)
            t.start()
            self.assertTrue(harness.is_closed(idle, timeout=5))
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.95)
            self.assertLess(elapsed, 3.5)
            time.sleep(1.5)  # the active one outlives the idle one by far
            stop.set()
            t.join(5)
            self.assertEqual(errors, [])
            self.assertEqual(harness.roundtrip(active, b'PING\r\n'), b'+PONG\r\n')
            idle.close()
            active.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_subscribers_do_not_time_out(self):
        srv = harness.Server('--timeout', '1')
        try:
            sub = srv.raw()
            reply = harness.roundtrip(sub, mbulk('SUBSCRIBE', 'news'))
            if reply.startswith(b'-ERR unknown'):
                self.skipTest('SUBSCRIBE is not implemented yet')
            self.assertEqual(reply, b'*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n')
            idle = srv.raw()
            self.assertTrue(harness.is_closed(idle, timeout=5))
            time.sleep(1.2)
            pub = srv.raw()
            self.assertEqual(harness.roundtrip(pub, mbulk('PUBLISH', 'news', 'hi')), b':1\r\n')
            self.assertEqual(harness.read_some(sub),
                             b'*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n')
            # Unsubscribed, it is an ordinary client again.
            self.assertEqual(harness.roundtrip(sub, mbulk('UNSUBSCRIBE')),
                             b'*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n')
            self.assertTrue(harness.is_closed(sub, timeout=5))
            for s in (sub, idle, pub):
                s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_no_timeout_by_default(self):
        srv = harness.Server()
        try:
            s = srv.raw()
            time.sleep(2.5)
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == '__main__':
    harness.main()
