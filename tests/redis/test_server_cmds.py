"""test_server_cmds.py - the server commands (cmd_server.c) and the
configuration (config.c): INFO, CONFIG GET/SET/RESETSTAT/REWRITE,
COMMAND and its subcommands, redis-cli's interactive mode, TIME, DBSIZE,
FLUSHDB, FLUSHALL, SWAPDB, SHUTDOWN, config files and the command line,
and the log line format (log.c).

Deterministic replies are compared byte for byte with the real
redis-server 7.0 (rds_testlib.DiffMixin); the others are checked against
the values Redis gives, written out here.
"""

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from rds_testlib import Conn, DiffMixin, Error

LOG_LINE_RE = re.compile(
    rb'^\d+:M \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] ')


def run_server(args, timeout=10, **kw):
    """Run the binary to completion (for the runs that must not start)."""
    return subprocess.run([harness.SERVER] + args, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


class ServerCmdsTest(DiffMixin, harness.ServerTest):

    @classmethod
    def tearDownClass(cls):
        cls.stop_reference()
        super().tearDownClass()

    def conn(self):
        c = Conn.tcp(self.server.host, self.server.port)
        self.addCleanup(c.close)
        return c

    # ---- INFO --------------------------------------------------------------------

    def test_info_sections_and_fields(self):
        info = self.r.info('everything')
        for field in ('redis_version', 'redis_mode', 'os', 'arch_bits',
                      'process_id', 'run_id', 'tcp_port', 'uptime_in_seconds',
                      'uptime_in_days', 'hz', 'executable', 'config_file',
                      'io_threads_active', 'connected_clients', 'maxclients',
                      'blocked_clients', 'used_memory', 'used_memory_human',
                      'used_memory_rss', 'used_memory_peak', 'maxmemory',
                      'mem_allocator', 'total_connections_received',
                      'total_commands_processed', 'instantaneous_ops_per_sec',
                      'total_net_input_bytes', 'total_net_output_bytes',
                      'rejected_connections', 'expired_keys', 'evicted_keys',
                      'keyspace_hits', 'keyspace_misses', 'pubsub_channels',
                      'pubsub_patterns',
                      'client_output_buffer_limit_disconnections',
                      'role', 'loading', 'used_cpu_sys', 'used_cpu_user',
                      'cluster_enabled'):
            self.assertIn(field, info)
        self.assertEqual(info['redis_version'], '7.0.15')
        self.assertEqual(info['redis_mode'], 'standalone')
        self.assertEqual(info['process_id'], self.server.proc.pid)
        self.assertEqual(info['tcp_port'], self.server.port)
        self.assertRegex(info['run_id'], r'^[0-9a-f]{40}$')
        self.assertEqual(info['maxclients'], 10000)
        self.assertEqual(info['maxmemory'], 0)
        self.assertEqual(info['mem_allocator'], 'libc')
        self.assertEqual(info['role'], 'master')
        self.assertEqual(info['executable'], os.path.realpath(harness.SERVER))
        self.assertGreater(info['used_memory'], 0)
        self.assertGreater(info['used_memory_rss'], 0)
        self.assertGreaterEqual(info['used_memory_peak'], info['used_memory'])
        self.assertGreaterEqual(info['connected_clients'], 1)
        self.assertGreater(info['total_connections_received'], 0)
        self.assertGreater(info['total_commands_processed'], 0)

    def test_info_raw_format(self):
        c = self.conn()
        text = c.cmd('INFO')
        self.assertTrue(text.startswith(b'# Server\r\nredis_version:7.0.15\r\n'))
        self.assertTrue(text.endswith(b'\r\n'))
        self.assertNotIn(b'\n', text.replace(b'\r\n', b''))
        sections = text.split(b'\r\n\r\n')
        headers = [s.split(b'\r\n')[0] for s in sections]
        self.assertEqual(headers, [b'# Server', b'# Clients', b'# Memory',
                                   b'# Persistence', b'# Stats',
                                   b'# Replication', b'# CPU', b'# Modules',
                                   b'# Cluster', b'# Keyspace'])
        for s in sections:
            for line in s.split(b'\r\n')[1:]:
                if line:
                    self.assertRegex(line, rb'^[a-z0-9_]+:')
        # Sections in Redis's order whatever the order asked; names in any
        # case; unknown ones add nothing.
        self.assertEqual(c.cmd('INFO', 'KEYSPACE', 'clients', 'nosuch'),
                         c.cmd('INFO', 'clients', 'keyspace'))
        two = c.cmd('INFO', 'keyspace', 'clients')
        self.assertTrue(two.startswith(b'# Clients\r\n'))
        self.assertIn(b'\r\n\r\n# Keyspace\r\n', two)
        self.assertEqual(c.call('INFO', 'nosuch'), b'$0\r\n\r\n')
        self.assertEqual(c.call('INFO', 'keyspace'), b'$12\r\n# Keyspace\r\n\r\n')
        for all_ in ('all', 'everything', 'default'):
            self.assertEqual(c.cmd('INFO', all_).count(b'\r\n# '), 9)
        # RESP3: a verbatim string.
        c.hello3()
        self.assertTrue(c.call('INFO', 'keyspace') == b'=16\r\ntxt:# Keyspace\r\n\r\n')

    def test_info_keyspace_counts(self):
        r = self.r
        r.set('a', 1)
        r.set('b', 2, ex=100)
        r.set('c', 3)
        r3 = self.server.client(db=3)
        r3.set('x', 1, px=100000)
        r3.close()
        ks = r.info('keyspace')
        self.assertEqual(ks, {'db0': {'keys': 3, 'expires': 1, 'avg_ttl': 0},
                              'db3': {'keys': 1, 'expires': 1, 'avg_ttl': 0}})
        self.assertEqual(r.dbsize(), 3)

    def test_info_stats_move(self):
        c = self.conn()
        before = self.r.info('stats')
        c.send(*['PING'])
        c.read()
        self.r.set('hit', 'v')
        self.r.get('hit')
        self.r.get('miss')
        after = self.r.info('stats')
        self.assertGreaterEqual(after['total_commands_processed'],
                                before['total_commands_processed'] + 4)
        self.assertGreater(after['total_net_input_bytes'], before['total_net_input_bytes'])
        self.assertGreater(after['total_net_output_bytes'], before['total_net_output_bytes'])
        self.assertGreaterEqual(after['keyspace_hits'], before['keyspace_hits'] + 1)
        self.assertGreaterEqual(after['keyspace_misses'], before['keyspace_misses'] + 1)
        # A burst between two INFO calls shows in instantaneous_ops_per_sec.
        c.sock.sendall(b'PING\r\n' * 2000)
        got = 0
        while got < 2000 * 7:
            got += len(c.sock.recv(65536))
        time.sleep(0.15)
        self.assertGreater(self.r.info('stats')['instantaneous_ops_per_sec'], 0)

    def test_config_resetstat(self):
        for _ in range(20):
            self.r.ping()
        self.r.get('nothing')
        self.assertEqual(self.r.execute_command('CONFIG', 'RESETSTAT'), b'OK')
        st = self.r.info('stats')
        # INFO itself is counted once it has run: a handful at most.
        self.assertLess(st['total_commands_processed'], 3)
        self.assertEqual(st['keyspace_misses'], 0)
        self.assertEqual(st['total_connections_received'], 0)

    def test_pubsub_counts(self):
        p = self.r.pubsub()
        p.subscribe('c1', 'c2')
        p.psubscribe('p*')
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st = self.r.info('stats')
            if st['pubsub_channels'] == 2 and st['pubsub_patterns'] == 1:
                break
            time.sleep(0.05)
        self.assertEqual((st['pubsub_channels'], st['pubsub_patterns']), (2, 1))
        p.close()

    # ---- CONFIG ------------------------------------------------------------------

    def test_config_get(self):
        r = self.r
        self.assertEqual(r.config_get('maxclients'), {'maxclients': '10000'})
        self.assertEqual(r.config_get('save'), {'save': ''})
        self.assertEqual(r.config_get('appendonly'), {'appendonly': 'no'})
        self.assertEqual(r.config_get('databases'), {'databases': '16'})
        self.assertEqual(r.config_get('proto-max-bulk-len'),
                         {'proto-max-bulk-len': '536870912'})
        self.assertEqual(r.config_get('client-output-buffer-limit'),
                         {'client-output-buffer-limit':
                          'normal 0 0 0 slave 268435456 67108864 60 '
                          'pubsub 33554432 8388608 60'})
        self.assertEqual(os.path.realpath(r.config_get('dir')['dir']),
                         os.path.realpath(self.server.dir.name))
        self.assertEqual(set(r.config_get('*max*')),
                         {'maxclients', 'maxmemory', 'proto-max-bulk-len'})
        self.assertEqual(r.config_get('nosuch'), {})
        self.assertEqual(r.config_get('PORT'), {'port': '0'})
        # Several patterns, a parameter matched twice comes once.
        c = self.conn()
        got = c.cmd('CONFIG', 'GET', 'hz', 'h?', 'timeout')
        self.assertEqual(dict(zip(got[0::2], got[1::2])),
                         {b'hz': b'10', b'timeout': b'0'})
        self.assertEqual(len(got), 4)
        self.assertGreaterEqual(len(r.config_get('*')), 20)

    def test_config_set_round_trips(self):
        r = self.r
        try:
            for name, value, shown in (
                    ('maxclients', '500', '500'), ('timeout', '300', '300'),
                    ('hz', '1000', '500'), ('hz', '0', '1'), ('hz', '20', '20'),
                    ('loglevel', 'WARNING', 'warning'),
                    ('protected-mode', 'No', 'no'),
                    ('proto-max-bulk-len', '2mb', '2097152'),
                    ('proto-max-bulk-len', '1G', '1000000000'),
                    ('client-query-buffer-limit', '2gb', '2147483648'),
                    ('save', '', ''), ('appendonly', 'no', 'no'),
                    ('maxmemory', '0', '0')):
                self.assertTrue(r.config_set(name, value), name)
                self.assertEqual(r.config_get(name), {name: shown}, name)
            self.assertTrue(r.config_set('client-output-buffer-limit',
                                         'pubsub 64mb 16mb 30 normal 1 2 3'))
            self.assertEqual(r.config_get('client-output-buffer-limit'),
                             {'client-output-buffer-limit':
                              'normal 1 2 3 slave 268435456 67108864 60 '
                              'pubsub 67108864 16777216 30'})
            # Several pairs at once.
            c = self.conn()
            self.assertEqual(c.cmd('CONFIG', 'SET', 'timeout', '7', 'maxclients', '77'), b'OK')
            self.assertEqual(r.config_get('timeout'), {'timeout': '7'})
            self.assertEqual(r.config_get('maxclients'), {'maxclients': '77'})
            # All or nothing: a bad pair leaves the good one unapplied.
            self.assertIsInstance(c.cmd('CONFIG', 'SET', 'timeout', '9', 'maxclients', '0'), Error)
            self.assertEqual(r.config_get('timeout'), {'timeout': '7'})
        finally:
            c = self.conn()
            self.assertEqual(c.cmd(
                'CONFIG', 'SET', 'maxclients', '10000', 'timeout', '0', 'hz', '10',
                'loglevel', 'notice', 'protected-mode', 'yes',
                'proto-max-bulk-len', '512mb', 'client-query-buffer-limit', '1gb',
                'client-output-buffer-limit', 'normal 0 0 0 pubsub 32mb 8mb 60'), b'OK')

    def test_config_errors_same_as_redis(self):
        self.assert_same_replies([
            ('CONFIG', 'SET', 'timeout', 'abc'), ('CONFIG', 'SET', 'maxclients', '0'),
            ('CONFIG', 'SET', 'databases', '3'), ('CONFIG', 'SET', 'foo', 'bar'),
            ('CONFIG', 'SET', 'loglevel', 'x'), ('CONFIG', 'SET', 'protected-mode', 'maybe'),
            ('CONFIG', 'SET', 'proto-max-bulk-len', '10'),
            ('CONFIG', 'SET', 'proto-max-bulk-len', '2x'),
            ('CONFIG', 'SET', 'timeout', '-1'), ('CONFIG', 'SET', 'hz', 'x'),
            ('CONFIG', 'SET', 'hz', '-1'), ('CONFIG', 'SET', 'timeout', '1', 'TIMEOUT', '2'),
            ('CONFIG', 'SET', 'maxclients', '1 2'),
            ('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 1 2'),
            ('CONFIG', 'SET', 'client-output-buffer-limit', 'foo 1 2 3'),
            ('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 1x 2 3'),
            ('CONFIG', 'SET', 'appendonly', 'maybe'), ('CONFIG', 'SET', 'dir', '/'),
            ('CONFIG', 'SET', 'daemonize', 'yes'), ('CONFIG', 'SET', 'logfile', 'x'),
            ('CONFIG', 'SET', 'maxmemory', '1x'), ('CONFIG', 'SET', 'maxclients', '5000000000'),
            ('CONFIG', 'SET', 'maxclients', '1', 'foo', '2'),
            ('CONFIG', 'SET', 'foo', '1', 'databases', '2'),
            ('CONFIG', 'SET', 'port'), ('CONFIG', 'SET', 'port', '1', 'bind'),
            ('CONFIG', 'GET'), ('CONFIG', 'GET', 'nosuch'), ('CONFIG', 'REWRITE'),
            ('CONFIG', 'nosuch'), ('CONFIG',), ('CONFIG', 'RESETSTAT', 'x'),
            ('CONFIG', 'HELP'), ('CONFIG', 'GET', 'appendonly'),
            ('CONFIG', 'GET', 'save'),
        ])

    def test_config_set_what_this_server_cannot_do(self):
        c = self.conn()
        for name, value in (('save', '900 1'), ('appendonly', 'yes'),
                            ('maxmemory', '100mb')):
            err = c.cmd('CONFIG', 'SET', name, value)
            self.assertIsInstance(err, Error)
            self.assertTrue(err.startswith(
                b"ERR CONFIG SET failed (possibly related to argument '%s') - "
                % name.encode()), err)
        for name in ('bind', 'port', 'workers', 'shards'):
            self.assertEqual(
                c.cmd('CONFIG', 'SET', name, '1'),
                Error(b"ERR CONFIG SET failed (possibly related to argument "
                      b"'%s') - can't set immutable config" % name.encode()))

    def test_config_loglevel_filters_the_log(self):
        c = self.conn()
        victim = self.raw()
        harness.roundtrip(victim, b'PING\r\n')
        n = len(self.server.log)
        try:
            self.assertEqual(c.cmd('CONFIG', 'SET', 'loglevel', 'verbose'), b'OK')
            # A protocol error is logged at verbose level.
            harness.roundtrip(victim, b'*1\r\n$x\r\n', expect_close=True)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if any(b'Protocol error' in l for l in self.server.log[n:]):
                    break
                time.sleep(0.05)
            self.assertTrue(any(re.match(LOG_LINE_RE.pattern + rb'.*Protocol error', l)
                                for l in self.server.log[n:]), self.server.log[n:])
            self.assertEqual(c.cmd('CONFIG', 'SET', 'loglevel', 'warning'), b'OK')
            m = len(self.server.log)
            v2 = self.raw()
            harness.roundtrip(v2, b'*1\r\n$x\r\n', expect_close=True)
            v2.close()
            time.sleep(0.3)
            self.assertFalse(any(b'Protocol error' in l for l in self.server.log[m:]))
        finally:
            victim.close()
            c.cmd('CONFIG', 'SET', 'loglevel', 'notice')

    # ---- COMMAND -------------------------------------------------------------------

    def test_command_count_list_info(self):
        c = self.conn()
        count = c.cmd('COMMAND', 'COUNT')
        everything = c.cmd('COMMAND')
        self.assertEqual(len(everything), count)
        names = [e[0] for e in everything]
        self.assertEqual(len(set(names)), count)
        for must in (b'get', b'set', b'ping', b'client', b'config', b'command',
                     b'info', b'subscribe', b'expire', b'del', b'flushall'):
            self.assertIn(must, names)
        listed = c.cmd('COMMAND', 'LIST')
        self.assertEqual(set(n for n in listed if b'|' not in n), set(names))
        self.assertIn(b'client|list', listed)
        self.assertIn(b'config|get', listed)
        self.assertEqual(sorted(c.cmd('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'config|*')),
                         [b'config|get', b'config|help', b'config|resetstat',
                          b'config|rewrite', b'config|set'])
        self.assertEqual(c.cmd('COMMAND', 'LIST', 'FILTERBY', 'MODULE', 'x'), [])
        conn_cat = c.cmd('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'connection')
        self.assertIn(b'ping', conn_cat)
        self.assertNotIn(b'get', conn_cat)
        self.assertEqual(c.cmd('COMMAND', 'LIST', 'FILTERBY', 'x', 'y'),
                         Error(b'ERR syntax error'))

    def test_command_info_same_as_redis(self):
        # Commands whose Redis entries have no cluster tips (which this
        # server does not give) match byte for byte.
        self.assert_same_replies([
            ('COMMAND', 'INFO', 'get'), ('COMMAND', 'INFO', 'nosuch'),
            ('COMMAND', 'INFO', 'client|nosuch'), ('COMMAND', 'INFO', 'swapdb'),
            ('COMMAND', 'GETKEYS', 'get', 'a'), ('COMMAND', 'GETKEYS', 'ping'),
            ('COMMAND', 'GETKEYS', 'get', 'a', 'b'), ('COMMAND', 'GETKEYS', 'nosuch', 'x'),
            ('COMMAND', 'GETKEYS', 'echo', 'x'), ('COMMAND', 'nosuch'),
            ('COMMAND', 'COUNT', 'x'), ('COMMAND', 'DOCS', 'nosuch'),
            ('COMMAND', 'INFO', 'GET', 'CLIENT|HELP'),
        ])

    def test_command_table_matches_redis(self):
        """Every command's arity, key positions, flags and ACL categories
        as Redis 7.0 gives them (flags this server has no notion of --
        noscript, denyoom... -- are left out of the comparison)."""
        not_modelled = {b'noscript', b'denyoom', b'sentinel', b'allow_busy',
                        b'no_multi', b'skip_monitor', b'skip_slowlog',
                        b'may_replicate', b'no_mandatory_keys', b'blocking',
                        b'asking', b'movablekeys', b'module', b'no_async_loading'}
        # Known gaps in other modules' tables, each with its reason.
        known = {
            # cmd_keys.c does not set acl (KEYS is @dangerous in Redis).
            (b'keys', 6),
        }
        ours, ref = self.ours(), self.reference().conn()
        self.addCleanup(ours.close)
        self.addCleanup(ref.close)
        checked = 0

        def compare(mine, theirs):
            nonlocal checked
            name = mine[0]
            for idx in (1, 2, 3, 4, 5, 6):
                a, b = mine[idx], theirs[idx]
                if idx == 2:
                    b = [f for f in b if f not in not_modelled]
                if idx in (2, 6):
                    a, b = sorted(a), sorted(b)
                if (name, idx) in known:
                    continue
                self.assertEqual(a, b, '%r field %d' % (name, idx))
            checked += 1

        for entry in ours.cmd('COMMAND'):
            theirs = ref.cmd('COMMAND', 'INFO', entry[0])[0]
            self.assertIsNotNone(theirs, 'Redis 7.0 has no %r' % entry[0])
            compare(entry, theirs)
            for sub in entry[9]:
                theirs = ref.cmd('COMMAND', 'INFO', sub[0])[0]
                if sub[0] == b'client|setinfo':  # Redis 7.2's
                    self.assertIsNone(theirs)
                    continue
                self.assertIsNotNone(theirs, 'Redis 7.0 has no %r' % sub[0])
                compare(sub, theirs)
        self.assertGreater(checked, 50)

    def test_command_info_shape(self):
        c = self.conn()
        info = c.cmd('COMMAND', 'INFO', 'get', 'set', 'mset', 'client', 'client|kill')
        get, set_, mset, client, kill = info
        self.assertEqual(get[:7], [b'get', 2, [b'readonly', b'fast'], 1, 1, 1,
                                   [b'@read', b'@string', b'@fast']])
        self.assertEqual(set_[1], -3)
        self.assertIn(b'write', set_[2])
        self.assertEqual((mset[3], mset[4], mset[5]), (1, -1, 2))
        spec = dict(zip(mset[8][0][0::2], mset[8][0][1::2]))
        self.assertEqual(spec[b'begin_search'], [b'type', b'index', b'spec', [b'index', 1]])
        self.assertEqual(spec[b'find_keys'], [b'type', b'range', b'spec',
                                              [b'lastkey', -1, b'keystep', 2, b'limit', 0]])
        self.assertEqual(client[0], b'client')
        self.assertEqual(client[1], -2)
        subs = {s[0]: s for s in client[9]}
        self.assertIn(b'client|list', subs)
        self.assertEqual(kill[0], b'client|kill')
        self.assertEqual(kill[1], -3)
        # RESP3: flags and categories are sets, key specs maps.
        c.hello3()
        raw = c.call('COMMAND', 'INFO', 'get')
        self.assertTrue(raw.startswith(b'*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n'
                                       b'+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n'), raw)
        # redis-py parses the whole table.
        table = self.r.command()
        self.assertEqual(table['get']['arity'], 2)

    def test_command_docs(self):
        c = self.conn()
        docs = c.cmd('COMMAND', 'DOCS', 'get', 'client|list', 'nosuch')
        self.assertEqual(len(docs), 4)
        d = dict(zip(docs[0::2], docs[1::2]))
        get = dict(zip(d[b'get'][0::2], d[b'get'][1::2]))
        self.assertEqual(get[b'group'], b'string')
        self.assertEqual(get[b'since'], b'1.0.0')
        self.assertTrue(get[b'summary'])
        c.hello3()
        everything = c.cmd('COMMAND', 'DOCS')
        self.assertEqual(len(everything), c.cmd('COMMAND', 'COUNT'))
        client = everything[b'client']
        self.assertIn(b'client|setname', client[b'subcommands'])
        self.assertEqual(everything[b'del'][b'group'], b'generic')

    def test_command_getkeys(self):
        c = self.conn()
        self.assertEqual(c.cmd('COMMAND', 'GETKEYS', 'set', 'k', 'v'), [b'k'])
        self.assertEqual(c.cmd('COMMAND', 'GETKEYS', 'mset', 'a', '1', 'b', '2'),
                         [b'a', b'b'])
        self.assertEqual(c.cmd('COMMAND', 'GETKEYS', 'del', 'a', 'b', 'c'),
                         [b'a', b'b', b'c'])

    def test_redis_cli_interactive(self):
        cli = shutil.which('redis-cli')
        if not cli:
            self.skipTest('redis-cli is not installed')
        pid, fd = pty.fork()
        if pid == 0:  # the child: redis-cli on a terminal (interactive mode)
            os.environ['TERM'] = 'dumb'  # linenoise: plain line editing
            os.execv(cli, [cli, '-h', self.server.host, '-p', str(self.server.port)])
        out = b''

        def read_until(token, timeout=10):
            nonlocal out
            deadline = time.monotonic() + timeout
            while token not in out and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        break
            return token in out

        try:
            prompt = b'%s:%d> ' % (self.server.host.encode(), self.server.port)
            self.assertTrue(read_until(prompt), out)
            # help uses what COMMAND DOCS sent at start.
            os.write(fd, b'help get\n')
            self.assertTrue(read_until(b'group:'), out)
            self.assertIn(b'string', out)
            out = b''
            os.write(fd, b'set clikey 42\n')
            self.assertTrue(read_until(b'OK'), out)
            out = b''
            os.write(fd, b'get clikey\n')
            self.assertTrue(read_until(b'"42"'), out)
            out = b''
            os.write(fd, b'client setname cli\n')
            self.assertTrue(read_until(b'OK'), out)
            os.write(fd, b'quit\n')
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                read_until(b'\x00', 0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.fail('redis-cli did not exit')
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)
        self.assertEqual(self.r.get('clikey'), b'42')

    def test_redis_cli_one_shot_and_stdin(self):
        cli = shutil.which('redis-cli')
        if not cli:
            self.skipTest('redis-cli is not installed')
        base = [cli, '-h', self.server.host, '-p', str(self.server.port)]
        out = subprocess.run(base + ['ping'], capture_output=True, timeout=10)
        self.assertEqual(out.stdout, b'PONG\n')
        out = subprocess.run(base, input=b'set a 1\nincr a\ndbsize\n',
                             capture_output=True, timeout=10)
        self.assertEqual(out.stdout, b'OK\n2\n1\n')
        out = subprocess.run(base + ['-3', 'hello', '3'], capture_output=True, timeout=10)
        self.assertIn(b'proto', out.stdout)

    # ---- TIME DBSIZE FLUSH SWAPDB -----------------------------------------------

    def test_time(self):
        c = self.conn()
        raw = c.call('TIME')
        self.assertRegex(raw, rb'^\*2\r\n\$10\r\n\d{10}\r\n\$\d\r\n\d{1,6}\r\n$')
        secs, usecs = (int(x) for x in Conn.decode(raw))
        self.assertLess(abs(secs + usecs / 1e6 - time.time()), 5)
        self.assertLess(usecs, 1000000)
        self.assertEqual(c.call('TIME', 'x'),
                         b"-ERR wrong number of arguments for 'time' command\r\n")

    def test_dbsize_flush_swapdb_same_as_redis(self):
        self.assert_same_replies([
            ('DBSIZE',), ('SET', 'a', '1'), ('SET', 'b', '2'), ('DBSIZE',),
            ('SELECT', '1'), ('SET', 'c', '3'), ('DBSIZE',), ('SELECT', '0'),
            ('SWAPDB', '0', '1'), ('DBSIZE',), ('GET', 'c'), ('GET', 'a'),
            ('SWAPDB', '1', '1'), ('SWAPDB', 'x', '1'), ('SWAPDB', '1', 'x'),
            ('SWAPDB', '0', '16'), ('SWAPDB', '-1', '0'),
            ('SWAPDB', '9999999999', '0'), ('SWAPDB', '0'),
            ('FLUSHDB', 'x'), ('FLUSHDB', 'async', 'x'), ('FLUSHDB', 'SYNC'),
            ('DBSIZE',), ('SELECT', '1'), ('DBSIZE',), ('FLUSHDB', 'ASYNC'),
            ('DBSIZE',), ('SET', 'z', '1'), ('FLUSHALL', 'foo'), ('FLUSHALL',),
            ('DBSIZE',), ('SET', 'y', '1'), ('FLUSHALL', 'sync'), ('DBSIZE',),
            ('DBSIZE', 'x'),
        ])

    def test_flushdb_only_current_db(self):
        r0, r1 = self.r, self.server.client(db=1)
        try:
            r0.set('k0', 1)
            r1.set('k1', 1)
            self.assertTrue(r1.flushdb())
            self.assertEqual((r0.dbsize(), r1.dbsize()), (1, 0))
            r1.set('k1', 1)
            self.assertTrue(r0.flushall())
            self.assertEqual((r0.dbsize(), r1.dbsize()), (0, 0))
        finally:
            r1.close()

    def test_swapdb_seen_by_other_connections(self):
        r0, r5 = self.r, self.server.client(db=5)
        try:
            r0.set('only-in-0', 'x')
            self.assertTrue(r0.swapdb(0, 5))
            self.assertEqual(r5.get('only-in-0'), b'x')
            self.assertIsNone(r0.get('only-in-0'))
        finally:
            r5.close()

    # ---- SHUTDOWN ---------------------------------------------------------------

    def test_shutdown_errors(self):
        self.assert_same_replies([
            ('SHUTDOWN', 'ABORT'), ('SHUTDOWN', 'foo'),
            ('SHUTDOWN', 'SAVE', 'NOSAVE'), ('SHUTDOWN', 'ABORT', 'NOW'),
        ])
        c = self.conn()
        # This server does not persist: SAVE cannot be honoured.
        self.assertEqual(c.cmd('SHUTDOWN', 'SAVE'),
                         Error(b'ERR Errors trying to SHUTDOWN. Check logs.'))
        self.assertEqual(c.cmd('PING'), b'PONG')


class ShutdownTest(unittest.TestCase):

    def test_shutdown_exits_0_without_reply(self):
        for args in ((), ('NOSAVE',), ('now', 'force'), ('SAVE', 'FORCE')):
            srv = harness.Server()
            try:
                other = srv.raw()
                harness.roundtrip(other, b'PING\r\n')
                s = srv.raw()
                got = harness.roundtrip(s, b'*%d\r\n$8\r\nSHUTDOWN\r\n' % (1 + len(args)) +
                                        b''.join(b'$%d\r\n%s\r\n' % (len(a), a.encode())
                                                 for a in args), expect_close=True)
                self.assertEqual(got, b'')
                self.assertTrue(harness.is_closed(other))
                self.assertEqual(srv.proc.wait(15), 0)
                self.assertIn(b'User requested shutdown', srv.log_text().encode())
            finally:
                rc = srv.stop()
            self.assertEqual(rc, 0)


class ConfigFileTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix='rds-conf-')
        self.addCleanup(self.dir.cleanup)

    def write(self, text):
        path = os.path.join(self.dir.name, 'redis.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_config_file_loads(self):
        path = self.write(
            '# a comment\n'
            '\n'
            '   maxclients 123   \n'
            'TIMEOUT 42\n'
            'requirepass "pass word"\n'
            "loglevel 'verbose'\n"
            'protected-mode No\n'
            'proto-max-bulk-len 2mb\n'
            'client-query-buffer-limit 2GB\n'
            'client-output-buffer-limit pubsub 1k 1kb 5\n'
            'databases 4\n'
            'save ""\n'
            'appendonly no\n'
            'hz 50\n')
        # The file comes first (harness adds --port 0 only when absent).
        srv = harness.Server(path, '--port', '0')
        try:
            r = srv.client(password='pass word')
            got = r.config_get('*')
            self.assertEqual(got['maxclients'], '123')
            self.assertEqual(got['timeout'], '42')
            self.assertEqual(got['requirepass'], 'pass word')
            self.assertEqual(got['loglevel'], 'verbose')
            self.assertEqual(got['protected-mode'], 'no')
            self.assertEqual(got['proto-max-bulk-len'], '2097152')
            self.assertEqual(got['client-query-buffer-limit'], '2147483648')
            self.assertEqual(got['client-output-buffer-limit'],
                             'normal 0 0 0 slave 268435456 67108864 60 pubsub 1000 1024 5')
            self.assertEqual(got['databases'], '4')
            self.assertEqual(got['hz'], '50')
            self.assertEqual(r.info('server')['config_file'], os.path.realpath(path))
            with self.assertRaises(harness.redis.exceptions.ResponseError):
                r.execute_command('SELECT', '4')
            # The command line wins over the file.
            r.close()
        finally:
            self.assertEqual(srv.stop(), 0)
        srv = harness.Server(path, '--port', '0', '--maxclients', '7',
                             '--requirepass', '')
        try:
            r = srv.client()
            self.assertEqual(r.config_get('maxclients'), {'maxclients': '7'})
            self.assertEqual(r.config_get('requirepass'), {'requirepass': ''})
            with self.assertRaises(harness.redis.exceptions.ResponseError) as e:
                r.config_rewrite()
            self.assertIn('Rewriting config file', str(e.exception))
            r.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_nul_in_config_file_ends_only_its_line(self):
        # Redis drops the rest of a line after a NUL (fgets + sdscat); the
        # lines after it and the command line's options still apply.
        path = os.path.join(self.dir.name, 'nul.conf')
        with open(path, 'wb') as f:
            f.write(b'port 0\nmaxclients 5\x00 ignored\nhz 20\n')
        srv = harness.Server(path, '--port', '0', '--timeout', '9')
        try:
            r = srv.client()
            got = r.config_get('*')
            self.assertEqual(got['maxclients'], '5')
            self.assertEqual(got['hz'], '20')
            self.assertEqual(got['timeout'], '9')
            r.close()
        finally:
            self.assertEqual(srv.stop(), 0)
        # So an error after the NUL is reported, as Redis does.
        with open(path, 'wb') as f:
            f.write(b'port 0\x00\n')
        out = run_server([path, '--port', 'abc'])
        self.assertEqual(out.returncode, 1)
        self.assertIn(b">>> 'port \"abc\"'", out.stderr)

    def test_config_from_stdin(self):
        srv_dir = tempfile.TemporaryDirectory(prefix='rds-stdin-')
        self.addCleanup(srv_dir.cleanup)
        proc = subprocess.Popen([harness.SERVER, '--port', '0', '-'], cwd=srv_dir.name,
                                stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
        try:
            proc.stdin.write(b'maxclients 99\n')
            proc.stdin.close()
            port = None
            deadline = time.monotonic() + harness.START_TIMEOUT
            while time.monotonic() < deadline and port is None:
                line = proc.stderr.readline()
                if not line:
                    break
                m = harness.READY_RE.search(line)
                if m:
                    port = int(m.group(2))
            self.assertIsNotNone(port)
            r = harness.redis.Redis(port=port, socket_timeout=10)
            self.assertEqual(r.config_get('maxclients'), {'maxclients': '99'})
            r.close()
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stderr.close()

    def test_bad_config_line_fails_with_its_number(self):
        cases = [
            ('# ok\nport 0\nfoo bar\n', 3, "foo bar", 'Bad directive or wrong number of arguments'),
            ('maxclients abc\n', 1, 'maxclients abc', "argument couldn't be parsed into an integer"),
            ('\n\ntimeout "12\n', 3, 'timeout "12', 'Unbalanced quotes in configuration line'),
            ('hz 1 2\n', 1, 'hz 1 2', 'wrong number of arguments'),
            ('maxclients 0\n', 1, 'maxclients 0', 'argument must be between 1 and 4294967295 inclusive'),
            ('protected-mode maybe\n', 1, 'protected-mode maybe', "argument must be 'yes' or 'no'"),
            ('loglevel loud\n', 1, 'loglevel loud',
             'argument(s) must be one of the following: debug, verbose, notice, warning'),
            ('proto-max-bulk-len 12q\n', 1, 'proto-max-bulk-len 12q', 'argument must be a memory value'),
            ('client-output-buffer-limit pubsub 1 2\n', 1,
             'client-output-buffer-limit pubsub 1 2',
             'Wrong number of arguments in buffer limit configuration.'),
        ]
        for text, line, echo, why in cases:
            path = self.write(text)
            out = run_server([path])
            self.assertEqual(out.returncode, 1, text)
            err = out.stderr.decode()
            self.assertIn('*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***', err)
            self.assertIn('Reading the configuration file, at line %d\n' % line, err)
            self.assertIn(">>> '%s'\n" % echo, err)
            self.assertIn(why, err)
            # Redis says the same about the same file.
            ref = shutil.which('redis-server')
            if ref:
                rout = subprocess.run([ref, path], capture_output=True, timeout=10,
                                      stdin=subprocess.DEVNULL)
                self.assertEqual(rout.returncode, 1)
                self.assertIn('at line %d\n' % line, rout.stderr.decode())
                self.assertIn(why, rout.stderr.decode())

    def test_command_line(self):
        out = run_server(['--version'])
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, rb'^task-redis-server v=7\.0\.15 sha=00000000:0 '
                                     rb'malloc=libc bits=64 build=\S+\n$')
        out = run_server(['--help'])
        self.assertEqual(out.returncode, 0)
        for name in (b'port', b'bind', b'maxclients', b'requirepass', b'workers',
                     b'client-output-buffer-limit'):
            self.assertIn(name, out.stdout)
        out = run_server(['--port', 'abc'])
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"at line 2\n>>> 'port \"abc\"'", out.stderr)
        out = run_server(['--port', '0', '--nosuch', 'x'])
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"at line 3\n>>> 'nosuch \"x\"'", out.stderr)
        out = run_server([os.path.join(self.dir.name, 'missing.conf')])
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"can't open config file", out.stderr)
        # `--save` followed by another option means save "" (Redis 7.0).
        srv = harness.Server('--save', '--maxclients', '9')
        try:
            r = srv.client()
            self.assertEqual(r.config_get('maxclients'), {'maxclients': '9'})
            r.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_logfile_and_format(self):
        log = os.path.join(self.dir.name, 'server.log')
        with open(log, 'wb') as f:
            f.write(b'previous line\n')
        proc = subprocess.Popen([harness.SERVER, '--port', '0', '--logfile', log,
                                 '--loglevel', 'verbose'], cwd=self.dir.name,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            port = None
            deadline = time.monotonic() + harness.START_TIMEOUT
            while time.monotonic() < deadline and port is None:
                with open(log, 'rb') as f:
                    m = harness.READY_RE.search(f.read())
                if m:
                    port = int(m.group(2))
                time.sleep(0.05)
            self.assertIsNotNone(port)
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            harness.roundtrip(s, b'SHUTDOWN\r\n', expect_close=True)
            s.close()
            self.assertEqual(proc.wait(15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stderr = proc.stderr.read()
            proc.stderr.close()
        self.assertEqual(stderr, b'')  # everything went to the file
        with open(log, 'rb') as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], b'previous line')  # appended
        for line in lines[1:]:
            self.assertRegex(line, LOG_LINE_RE)
            self.assertTrue(line.startswith(b'%d:M ' % proc.pid))
        self.assertTrue(any(b' # User requested shutdown' in l for l in lines))
        self.assertTrue(any(b' * Ready to accept connections' in l for l in lines))


class LogFormatTest(harness.ServerTest):

    def test_stderr_lines_have_redis_format(self):
        self.assertTrue(self.server.log)
        for line in self.server.log:
            self.assertRegex(line, LOG_LINE_RE)


if __name__ == '__main__':
    harness.main()
