"""test_loadgen.py - task-redis-bench ($RDS_BENCH), the load generator,
against task-redis-server ($RDS_SERVER, started by harness.py on an
ephemeral port) and against small fake servers written here (a Unix
socket one, one that counts the commands in each read).

What is pinned: the full, quiet and CSV outputs (redis-benchmark's CSV
columns, then p90, p99.9, requests and errors); that the requests really
reach the server (exact INCR counts, DBSIZE within -r, the server's own
command counter); pipelining (one write per batch, seen by a fake server);
--duration and --warmup bounds; a custom command with __rand_int__;
--ratio; threads > 1; AUTH, --dbnum, RESP3; bad arguments (usage, exit
2); a refused connection (non-zero, a clear message); error replies
counted and reported.  Every run is bounded (RUN_TIMEOUT) and small.
"""

import csv
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import harness  # noqa: E402

BENCH = os.environ.get('RDS_BENCH', '')
RUN_TIMEOUT = 60

CSV_HEADER = ['test', 'rps', 'avg_latency_ms', 'min_latency_ms', 'p50_latency_ms',
              'p95_latency_ms', 'p99_latency_ms', 'max_latency_ms', 'p90_latency_ms',
              'p99_9_latency_ms', 'requests', 'errors']


def bench(*args, timeout=RUN_TIMEOUT):
    """Run task-redis-bench with @args; return the CompletedProcess."""
    return subprocess.run([BENCH] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def csv_rows(out):
    """The CSV output as a header and a list of dicts."""
    rows = list(csv.reader(io.StringIO(out.decode())))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class FakeServer:
    """A tiny RESP server: answers every command with +OK (or -ERR for
    commands named in @errors), and records, for every recv, how many whole
    commands it completed.  Listens on TCP (127.0.0.1, a free port) or on
    the Unix socket @path."""

    def __init__(self, path=None, errors=()):
        self.errors = {e.upper().encode() for e in errors}
        self.per_read = []
        self.commands = []
        self.lock = threading.Lock()
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
        else:
            self.sock = socket.socket()
            self.sock.bind(('127.0.0.1', 0))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def accept_loop(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    @staticmethod
    def parse(buf):
        """Whole multibulk commands at the start of @buf: (commands, rest)."""
        cmds = []
        while True:
            if not buf.startswith(b'*'):
                return cmds, buf
            end = buf.find(b'\r\n')
            if end < 0:
                return cmds, buf
            n = int(buf[1:end])
            pos, args = end + 2, []
            for _ in range(n):
                e = buf.find(b'\r\n', pos)
                if e < 0:
                    return cmds, buf
                ln = int(buf[pos + 1:e])
                if len(buf) < e + 2 + ln + 2:
                    return cmds, buf
                args.append(buf[e + 2:e + 2 + ln])
                pos = e + 2 + ln + 2
            cmds.append(args)
            buf = buf[pos:]

    def serve(self, c):
        c.settimeout(0.2)
        buf = b''
        with c:
            while not self.stop_ev.is_set():
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                cmds, buf = self.parse(buf)
                with self.lock:
                    self.per_read.append(len(cmds))
                    self.commands.extend(cmds)
                out = b''.join(b'-ERR no\r\n' if a[0].upper() in self.errors else b'+OK\r\n'
                               for a in cmds)
                if out:
                    try:
                        c.sendall(out)
                    except OSError:
                        return

    def stop(self):
        self.stop_ev.set()
        self.sock.close()
        for t in self.threads:
            t.join(5)


class LoadgenTest(harness.ServerTest):
    """task-redis-bench against task-redis-server."""

    def run_ok(self, *args, **kw):
        r = bench('-h', self.server.host, '-p', self.server.port, *args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return r

    # ---- Output ---------------------------------------------------------------

    def test_full_output_has_summary_percentiles_and_histogram(self):
        out = self.run_ok('-t', 'set,get', '-n', 2000, '-c', 5).stdout.decode()
        self.assertIn('====== SET ======', out)
        self.assertIn('====== GET ======', out)
        self.assertRegex(out, r'2000 requests completed in \d+\.\d\d seconds')
        self.assertIn('5 parallel clients, pipeline 1, 1 thread', out)
        self.assertIn('error replies: 0', out)
        self.assertRegex(out, r'throughput summary: \d+\.\d\d requests per second')
        m = re.search(r'avg\s+min\s+p50\s+p90\s+p95\s+p99\s+p99\.9\s+max\n((?:\s+\d+\.\d{3}){8})', out)
        self.assertIsNotNone(m, out)
        avg, mn, p50, p90, p95, p99, p999, mx = map(float, m.group(1).split())
        self.assertTrue(0 < mn <= p50 <= p90 <= p95 <= p99 <= p999 <= mx, m.group(1))
        self.assertTrue(mn <= avg <= mx)
        # The histogram: rows of "<= edge count share cumulative bar", the
        # last at 100% cumulative, the counts adding up to the requests.
        hist = re.findall(r'^\s+<=\s+(\d+\.\d{3})\s+(\d+)\s+(\d+\.\d\d)%\s+(\d+\.\d\d)%', out, re.M)
        self.assertGreater(len(hist), 0, out)
        self.assertEqual(hist[-1][3], '100.00')
        self.assertEqual(sum(int(h[1]) for h in hist), 4000)

    def test_quiet_prints_one_line_per_test(self):
        out = self.run_ok('-q', '-t', 'ping,incr', '-n', 1000, '-c', 4).stdout.decode()
        lines = out.strip().split('\n')
        self.assertEqual(len(lines), 3, out)
        for name, line in zip(['PING_INLINE', 'PING_MBULK', 'INCR'], lines):
            self.assertRegex(line, r'^%s: \d+\.\d\d requests per second, p50=\d+\.\d{3} msec$' % name)

    def test_csv_columns_are_redis_benchmarks_then_ours(self):
        out = self.run_ok('--csv', '-t', 'set,get,mset', '-n', 1500, '-c', 3).stdout
        header, rows = csv_rows(out)
        self.assertEqual(header, CSV_HEADER)
        self.assertEqual([r['test'] for r in rows], ['SET', 'GET', 'MSET (10 keys)'])
        for r in rows:
            self.assertEqual(r['requests'], '1500')
            self.assertEqual(r['errors'], '0')
            self.assertGreater(float(r['rps']), 0)
            for col in CSV_HEADER[2:10]:
                self.assertRegex(r[col], r'^\d+\.\d{3}$')
            self.assertLessEqual(float(r['min_latency_ms']), float(r['p50_latency_ms']))
            self.assertLessEqual(float(r['p99_latency_ms']), float(r['max_latency_ms']))

    def test_progress_line_goes_to_stderr_only_when_asked(self):
        r = self.run_ok('--progress', '-t', 'ping_mbulk', '--duration', 0.8, '-c', 2, '-q')
        self.assertRegex(r.stderr.decode(), r'PING_MBULK: rps=\d+\.\d \(overall: \d+\.\d\) requests=\d+')
        self.assertNotIn('rps=', r.stdout.decode().replace('requests per second', ''))
        r = self.run_ok('-t', 'ping_mbulk', '--duration', 0.5, '-c', 2, '-q')
        self.assertEqual(r.stderr, b'')  # not a tty, no --progress

    # ---- The requests reach the server ------------------------------------------

    def test_incr_without_r_hits_one_key_exactly_n_times(self):
        self.run_ok('-t', 'incr', '-n', 5000, '-c', 7)
        # Without -r the key is literally counter:__rand_int__, as with
        # redis-benchmark.
        self.assertEqual(self.r.get('counter:__rand_int__'), b'5000')
        self.assertEqual(self.r.dbsize(), 1)

    def test_set_with_r_spreads_over_the_keyspace(self):
        self.run_ok('-t', 'set', '-n', 20000, '-c', 10, '-r', 1000, '-d', 7)
        n = self.r.dbsize()
        self.assertGreater(n, 900)  # 20 tries per key: all but a few hit
        self.assertLessEqual(n, 1000)
        for k in self.r.scan_iter(count=1000):
            self.assertRegex(k, rb'^key:\d{12}$')
            self.assertLess(int(k[4:]), 1000)
        self.assertEqual(self.r.get(next(self.r.scan_iter())), b'x' * 7)

    def test_server_counts_the_requests(self):
        self.r.config_resetstat()
        self.run_ok('-t', 'get', '-n', 3000, '-c', 5, '-r', 100)
        done = int(self.r.info('stats')['total_commands_processed'])
        self.assertGreaterEqual(done, 3000)
        self.assertLessEqual(done, 3000 + 5)  # RESETSTAT, INFO

    def test_pipelined_counts_are_exact_even_when_n_is_not_a_multiple(self):
        r = self.run_ok('--csv', '-t', 'incr', '-n', 1001, '-c', 3, '-P', 16)
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['requests'], '1001')
        self.assertEqual(self.r.get('counter:__rand_int__'), b'1001')

    def test_threads_share_the_requests(self):
        r = self.run_ok('--threads', 3, '-c', 6, '-t', 'incr', '-n', 3001, '-P', 4)
        self.assertIn('6 parallel clients, pipeline 4, 3 threads', r.stdout.decode())
        self.assertEqual(self.r.get('counter:__rand_int__'), b'3001')

    def test_more_threads_than_connections_is_fine(self):
        self.run_ok('--threads', 4, '-c', 2, '-t', 'incr', '-n', 100)
        self.assertEqual(self.r.get('counter:__rand_int__'), b'100')

    def test_custom_command_with_rand_int(self):
        r = self.run_ok('--csv', '-n', 2000, '-c', 4, '-r', 10, '--', 'SET', 'mykey:__rand_int__',
                        'v__rand_int__')
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['test'], 'SET mykey:__rand_int__ v__rand_int__')
        self.assertEqual(rows[0]['errors'], '0')
        keys = sorted(self.r.keys('*'))
        self.assertGreater(len(keys), 5)
        self.assertLessEqual(len(keys), 10)
        for k in keys:
            self.assertRegex(k, rb'^mykey:0000000000\d\d$')
            self.assertRegex(self.r.get(k), rb'^v\d{12}$')

    def test_custom_command_without_dashes(self):
        self.run_ok('-n', 300, '-c', 2, 'INCRBY', 'k', '2')
        self.assertEqual(self.r.get('k'), b'600')

    def test_ratio_mixes_gets_and_sets(self):
        self.r.config_resetstat()
        r = self.run_ok('--csv', '--ratio', '3:1', '-n', 4000, '-c', 4, '-r', 50)
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['test'], 'GET:SET 3:1')
        self.assertEqual(rows[0]['requests'], '4000')
        info = self.r.info('stats')
        # 1000 SETs over 50 keys: all of them exist.
        self.assertEqual(self.r.dbsize(), 50)
        hits, misses = int(info['keyspace_hits']), int(info['keyspace_misses'])
        self.assertEqual(hits + misses, 3000)

    def test_data_size(self):
        self.run_ok('-t', 'set', '-n', 10, '-c', 1, '-d', 1000)
        self.assertEqual(self.r.get('key:__rand_int__'), b'x' * 1000)

    def test_lrange_fills_the_list_first(self):
        r = self.run_ok('--csv', '-t', 'lrange_100', '-n', 500, '-c', 5)
        _, rows = csv_rows(r.stdout)
        self.assertEqual([x['test'] for x in rows],
                         ['LPUSH (needed to benchmark LRANGE)', 'LRANGE_100 (first 100 elements)'])
        # (Lists are not in task-redis-server: LPUSH and LRANGE may count
        # errors there; the filler run and its title are what is pinned.)
        self.assertEqual([x['requests'] for x in rows], ['500', '500'])

    def test_resp3(self):
        self.r.set('key:__rand_int__', 'v')
        r = self.run_ok('-3', '--csv', '-t', 'get,incr', '-n', 300, '-c', 3)
        _, rows = csv_rows(r.stdout)
        self.assertTrue(all(x['errors'] == '0' and x['requests'] == '300' for x in rows))

    def test_dbnum_selects_the_database(self):
        self.run_ok('--dbnum', 3, '-t', 'incr', '-n', 50, '-c', 2)
        self.assertEqual(self.r.dbsize(), 0)
        db3 = self.client(db=3)
        self.assertEqual(db3.get('counter:__rand_int__'), b'50')
        db3.flushdb()
        db3.close()

    # ---- Duration and warm-up -------------------------------------------------------

    def test_duration_bounds_the_run(self):
        t0 = time.monotonic()
        r = self.run_ok('--csv', '-t', 'ping_mbulk', '--duration', 1, '-c', 4, '-n', 10)
        wall = time.monotonic() - t0
        _, rows = csv_rows(r.stdout)
        self.assertGreater(int(rows[0]['requests']), 10)  # --duration overrides -n
        self.assertGreaterEqual(wall, 1.0)
        self.assertLess(wall, 5.0)

    def test_warmup_is_not_counted(self):
        t0 = time.monotonic()
        r = self.run_ok('--csv', '-t', 'incr', '--warmup', 0.5, '-n', 1000, '-c', 2)
        wall = time.monotonic() - t0
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['requests'], '1000')
        self.assertGreater(int(self.r.get('counter:__rand_int__')), 1000)
        self.assertGreaterEqual(wall, 0.5)

    # ---- Errors ------------------------------------------------------------------------

    def test_error_replies_are_counted_and_reported(self):
        r = self.run_ok('--csv', '-n', 200, '-c', 2, '--', 'NOSUCHCOMMAND', 'x')
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['errors'], '200')
        self.assertEqual(rows[0]['requests'], '200')
        out = self.run_ok('-n', 50, '-c', 2, 'INCR', 'notanumber').stdout.decode()
        self.assertIn('error replies: 0', out)
        self.r.set('s', 'abc')
        out = self.run_ok('-n', 50, '-c', 2, 'INCR', 's').stdout.decode()
        self.assertRegex(out, r'error replies: 50 \(first: ERR value is not an integer')
        q = self.run_ok('-q', '-n', 30, '-c', 1, 'INCR', 's').stdout.decode()
        self.assertIn(', 30 errors', q)


class AuthTest(harness.ServerTest):
    server_args = ['--requirepass', 'sekret']
    password = 'sekret'

    def test_auth_with_a_and_a_wrong_password(self):
        r = bench('-h', self.server.host, '-p', self.server.port, '-a', 'sekret', '-t', 'incr',
                  '-n', 100, '-c', 3)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(self.r.get('counter:__rand_int__'), b'100')
        r = bench('-h', self.server.host, '-p', self.server.port, '-a', 'wrong', '-n', 10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'refused the connection', r.stderr)
        self.assertIn(b'WRONGPASS', r.stderr)
        r = bench('-h', self.server.host, '-p', self.server.port, '-q', '-n', 10, '-t', 'get')
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'10 errors', r.stdout)  # NOAUTH for each


class NoServerTest(unittest.TestCase):
    """Arguments, refused connections, fake servers."""

    def test_bad_arguments_print_usage_and_exit_2(self):
        for args in (['-x'], ['-c', '0'], ['-c'], ['-P', 'abc'], ['-n', '-5'], ['--ratio', 'x'],
                     ['--ratio', '0:0'], ['-t', 'nosuch'], ['-t', ','], ['--duration', '0'],
                     ['--threads', '0'], ['-p', '70000'], ['-r', '0'], ['--user', 'u'],
                     ['-t', 'get', '--ratio', '1:1'], ['-t', 'get', 'PING'],
                     ['--warmup', '-1'], ['-d', 'big']):
            r = bench(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(b'Usage: task-redis-bench', r.stderr, args)
            self.assertEqual(r.stdout, b'', args)

    def test_help_exits_0(self):
        r = bench('--help')
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'Usage: task-redis-bench', r.stdout)

    def test_refused_connection_is_a_clear_failure(self):
        port = free_port()
        r = bench('-p', port, '-n', 10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b'cannot connect to 127.0.0.1:%d' % port, r.stderr)
        self.assertIn(b'refused', r.stderr.lower())
        r = bench('-s', '/nonexistent/sock', '-n', 10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b'cannot connect to /nonexistent/sock', r.stderr)

    def test_unresolvable_host(self):
        r = bench('-h', 'no-such-host.invalid', '-n', 10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b'cannot resolve no-such-host.invalid', r.stderr)

    def test_pipeline_is_one_write_per_batch(self):
        fake = FakeServer()
        try:
            r = bench('-p', fake.port, '-c', 1, '-P', 16, '-n', 160, '-t', 'ping_mbulk', '--csv')
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            with fake.lock:
                per_read = [n for n in fake.per_read if n]
                total = len(fake.commands)
        finally:
            fake.stop()
        self.assertEqual(total, 160)
        self.assertEqual(max(per_read), 16)  # a batch arrives whole...
        self.assertLessEqual(len(per_read), 20)  # ...not one command per read
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['requests'], '160')

    def test_unpipelined_is_one_command_per_write(self):
        fake = FakeServer()
        try:
            r = bench('-p', fake.port, '-c', 1, '-n', 50, '-t', 'ping_mbulk', '-q')
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            with fake.lock:
                per_read = [n for n in fake.per_read if n]
        finally:
            fake.stop()
        self.assertEqual(per_read, [1] * 50)

    def test_unix_socket_and_errors_from_any_server(self):
        with tempfile.TemporaryDirectory(prefix='rds-loadgen-') as d:
            path = os.path.join(d, 'fake.sock')
            fake = FakeServer(path=path, errors=['GET'])
            try:
                r = bench('-s', path, '-c', 3, '-n', 300, '--ratio', '1:2', '-r', 10, '--csv')
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                with fake.lock:
                    names = [c[0] for c in fake.commands]
            finally:
                fake.stop()
        _, rows = csv_rows(r.stdout)
        self.assertEqual(rows[0]['errors'], '100')  # the fake refuses GET
        self.assertEqual(names.count(b'GET'), 100)
        self.assertEqual(names.count(b'SET'), 200)

    def test_server_closing_mid_run_is_an_error(self):
        """A server that goes away: a message and a non-zero exit, no hang."""
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        s.listen(8)
        port = s.getsockname()[1]

        def close_after_accept():
            s.settimeout(10)
            try:
                c, _ = s.accept()
                c.recv(100)
                c.close()
            except OSError:
                pass

        t = threading.Thread(target=close_after_accept, daemon=True)
        t.start()
        try:
            r = bench('-p', port, '-c', 1, '-n', 100, '-t', 'ping_mbulk')
        finally:
            t.join(10)
            s.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'lost the connection to 127.0.0.1:%d' % port, r.stderr)


if __name__ == '__main__':
    if not BENCH or not os.access(BENCH, os.X_OK):
        sys.stderr.write('RDS_BENCH does not name task-redis-bench: %r\n' % BENCH)
        sys.exit(1)
    harness.main()
