"""test_conn.py - the connection commands (cmd_conn.c): PING ECHO QUIT
SELECT HELLO AUTH RESET CLIENT, against Redis 7.0's exact replies.

Where the reply is deterministic the bytes are compared with the real
redis-server 7.0 (rds_testlib.DiffMixin, RESP2 and RESP3); the rest
(client ids, addresses, CLIENT LIST lines, killing connections,
requirepass) is checked against the values Redis gives, written out here.
"""

import re
import socket
import time

import harness
from rds_testlib import Conn, DiffMixin, Error, Push, Simple

CLIENT_LINE_RE = re.compile(
    r'^id=(\d+) addr=(\S+) laddr=(\S+) fd=(\d+) name=(\S*) age=(\d+) '
    r'idle=(\d+) flags=([A-Za-z]+) db=(\d+) sub=(\d+) psub=(\d+) ssub=(\d+) '
    r'multi=-1 cmd=(\S+) user=default redir=-1 resp=([23])'
    r' lib-name=(\S*) lib-ver=(\S*)$')


def client_lines(text):
    if isinstance(text, bytes):
        text = text.decode()
    lines = [l for l in text.split('\n') if l]
    out = []
    for l in lines:
        m = CLIENT_LINE_RE.match(l)
        assert m, 'CLIENT LIST line has not the expected format: %r' % l
        out.append(dict(kv.split('=', 1) for kv in l.split(' ')))
    return out


class ConnTest(DiffMixin, harness.ServerTest):

    @classmethod
    def tearDownClass(cls):
        cls.stop_reference()
        super().tearDownClass()

    def conn(self):
        c = Conn.tcp(self.server.host, self.server.port)
        self.addCleanup(c.close)
        return c

    # ---- PING ECHO QUIT ------------------------------------------------------

    def test_ping_echo_same_as_redis(self):
        self.assert_same_replies([
            ('PING',), ('ping', 'hello'), ('PING', ''), ('PING', 'a', 'b'),
            ('ECHO', 'x'), ('echo', b'bin\x00\r\nary'), ('ECHO',),
            ('ECHO', 'a', 'b'),
        ])

    def test_ping_inline(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'ping "hi there"\r\n'),
                         b'$8\r\nhi there\r\n')
        s.close()

    def test_quit_replies_ok_then_closes(self):
        s = self.raw()
        # Commands pipelined after QUIT are not executed.
        got = harness.roundtrip(s, b'QUIT\r\nSET after quit\r\n', expect_close=True)
        self.assertEqual(got, b'+OK\r\n')
        self.assertTrue(harness.is_closed(s))
        s.close()
        self.assertIsNone(self.r.get('after'))

    # ---- SELECT ----------------------------------------------------------------

    def test_select_errors_same_as_redis(self):
        self.assert_same_replies([
            ('SELECT', '15'), ('SELECT', '16'), ('SELECT', '-1'),
            ('SELECT', 'x'), ('SELECT', '9999999999999'), ('SELECT', ''),
            ('SELECT', '1', '2'), ('SELECT',), ('SELECT', '0'),
        ])

    def test_select_isolates_databases(self):
        c = self.conn()
        self.assertEqual(c.cmd('SET', 'k', 'db0'), b'OK')
        self.assertEqual(c.cmd('SELECT', '3'), b'OK')
        self.assertIsNone(c.cmd('GET', 'k'))
        self.assertEqual(c.cmd('SET', 'k', 'db3'), b'OK')
        self.assertEqual(c.cmd('GET', 'k'), b'db3')
        # Another connection starts in db 0 and sees db 0's value.
        self.assertEqual(self.r.get('k'), b'db0')
        # CLIENT LIST shows the selected database.
        info = client_lines(c.cmd('CLIENT', 'INFO'))[0]
        self.assertEqual(info['db'], '3')
        self.assertEqual(c.cmd('SELECT', '0'), b'OK')
        self.assertEqual(c.cmd('GET', 'k'), b'db0')

    # ---- HELLO -------------------------------------------------------------------

    def test_hello_errors_same_as_redis(self):
        self.assert_same_replies([
            ('HELLO', '4'), ('HELLO', '1'), ('HELLO', 'x'), ('HELLO', '-1'),
            ('HELLO', '3', 'foo'), ('HELLO', '3', 'AUTH', 'default'),
            ('HELLO', '2', 'SETNAME', 'a b'), ('HELLO', '2', 'SETNAME'),
            ('HELLO', '2', 'AUTH', 'nobody', 'pw'),
        ])

    def test_hello_resp2_and_resp3(self):
        c = self.conn()
        my_id = c.cmd('CLIENT', 'ID')
        # Without a version: the current protocol's map (RESP2: an array).
        reply = c.cmd('HELLO')
        self.assertIsInstance(reply, list)
        fields = dict(zip(reply[0::2], reply[1::2]))
        self.assertEqual(fields, {
            b'server': b'redis', b'version': b'7.0.15', b'proto': 2,
            b'id': my_id, b'mode': b'standalone', b'role': b'master',
            b'modules': []})
        # HELLO 3: the reply itself is already a RESP3 map.
        raw = c.call('HELLO', '3')
        self.assertTrue(raw.startswith(b'%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n'), raw)
        self.assertIn(b'$5\r\nproto\r\n:3\r\n', raw)
        # RESP3 replies from then on: null is '_', maps are '%'.
        self.assertEqual(c.call('GET', 'missing'), b'_\r\n')
        self.assertTrue(c.call('CONFIG', 'GET', 'maxclients').startswith(b'%1\r\n'))
        self.assertTrue(c.call('CLIENT', 'INFO').startswith(b'='))
        # Back to RESP2.
        raw = c.call('HELLO', '2')
        self.assertTrue(raw.startswith(b'*14\r\n'), raw)
        self.assertEqual(c.call('GET', 'missing'), b'$-1\r\n')
        self.assertTrue(c.call('CONFIG', 'GET', 'maxclients').startswith(b'*2\r\n'))

    def test_hello_setname(self):
        c = self.conn()
        reply = c.cmd('HELLO', '3', 'SETNAME', 'conn-a')
        self.assertEqual(reply[b'proto'], 3)
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'conn-a')
        # A bad option leaves the protocol and name as they were.
        self.assertIsInstance(c.cmd('HELLO', '2', 'SETNAME', 'x', 'bogus'), Error)
        self.assertEqual(c.call('GET', 'missing'), b'_\r\n')
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'conn-a')

    # ---- AUTH without a password -------------------------------------------------

    def test_auth_without_password_same_as_redis(self):
        self.assert_same_replies([
            ('AUTH', 'x'), ('AUTH', 'default', 'anything'),
            ('AUTH', 'nobody', 'pw'), ('AUTH', 'a', 'b', 'c'), ('AUTH',),
        ])

    # ---- RESET ---------------------------------------------------------------------

    def test_reset_restores_the_connection_state(self):
        c = self.conn()
        c.cmd('SELECT', '5')
        c.cmd('CLIENT', 'SETNAME', 'before')
        c.hello3()
        self.assertEqual(c.call('RESET'), b'+RESET\r\n')
        self.assertEqual(c.call('CLIENT', 'GETNAME'), b'$-1\r\n')  # RESP2 again
        info = client_lines(c.cmd('CLIENT', 'INFO'))[0]
        self.assertEqual((info['db'], info['resp'], info['name']), ('0', '2', ''))

    def test_reset_leaves_subscribed_mode(self):
        c = self.conn()
        c.send('SUBSCRIBE', 'ch')
        self.assertEqual(c.read(), [b'subscribe', b'ch', 1])
        # Subscribed (RESP2): other commands are refused.
        self.assertIsInstance(c.cmd('GET', 'k'), Error)
        self.assertEqual(c.call('RESET'), b'+RESET\r\n')
        self.assertIsNone(c.cmd('GET', 'k'))
        self.assertEqual(self.r.publish('ch', 'm'), 0)
        self.assertEqual(self.r.pubsub_numsub('ch'), [(b'ch', 0)])

    def test_ping_when_subscribed(self):
        c = self.conn()
        c.send('SUBSCRIBE', 'ch')
        c.read()
        # RESP2 subscribed: a message-shaped reply.
        self.assertEqual(c.call('PING'), b'*2\r\n$4\r\npong\r\n$0\r\n\r\n')
        self.assertEqual(c.call('PING', 'hi'), b'*2\r\n$4\r\npong\r\n$2\r\nhi\r\n')
        info = client_lines(self.r.execute_command('CLIENT', 'LIST', 'TYPE', 'pubsub'))
        self.assertEqual(len(info), 1)
        self.assertEqual((info[0]['flags'], info[0]['sub']), ('P', '1'))
        # RESP3 subscribed: the ordinary replies.
        c2 = self.conn()
        c2.hello3()
        c2.send('SUBSCRIBE', 'ch')
        self.assertEqual(c2.read(), Push([b'subscribe', b'ch', 1]))
        self.assertEqual(c2.call('PING'), b'+PONG\r\n')

    # ---- CLIENT --------------------------------------------------------------------

    def test_client_errors_same_as_redis(self):
        self.assert_same_replies([
            ('CLIENT',), ('CLIENT', 'nosuch'), ('client', 'SetName'),
            ('CLIENT', 'SETNAME', 'a b'), ('CLIENT', 'SETNAME', 'a\nb'),
            ('CLIENT', 'SETNAME', 'ok-name'), ('CLIENT', 'GETNAME'),
            ('CLIENT', 'SETNAME', ''), ('CLIENT', 'GETNAME'),
            ('CLIENT', 'GETNAME', 'x'), ('CLIENT', 'ID', 'x'),
            ('CLIENT', 'LIST', 'TYPE', 'foo'), ('CLIENT', 'LIST', 'ID', 'x'),
            ('CLIENT', 'LIST', 'foo'), ('CLIENT', 'LIST', 'ID'),
            ('CLIENT', 'LIST', 'TYPE', 'normal', 'x'),
            ('CLIENT', 'LIST', 'TYPE', 'master'),
            ('CLIENT', 'KILL', '1.2.3.4:5'), ('CLIENT', 'KILL', 'ID', 'x'),
            ('CLIENT', 'KILL', 'ID', '0'), ('CLIENT', 'KILL', 'TYPE', 'foo'),
            ('CLIENT', 'KILL', 'USER', 'foo'),
            ('CLIENT', 'KILL', 'SKIPME', 'maybe'),
            ('CLIENT', 'KILL', 'foo', 'bar'), ('CLIENT', 'KILL', 'ID', '1', 'x'),
            ('CLIENT', 'KILL', 'ID', '999999'),
            ('CLIENT', 'KILL', 'TYPE', 'master'), ('CLIENT', 'KILL'),
        ])

    def test_client_id_setname_getname(self):
        c = self.conn()
        cid = c.cmd('CLIENT', 'ID')
        self.assertIsInstance(cid, int)
        self.assertGreater(cid, 0)
        self.assertNotEqual(cid, self.r.client_id())
        self.assertIsNone(c.cmd('CLIENT', 'GETNAME'))
        self.assertEqual(c.cmd('CLIENT', 'SETNAME', 'worker-1'), b'OK')
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'worker-1')
        self.assertIsInstance(c.cmd('CLIENT', 'SETNAME', 'bad name'), Error)
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'worker-1')
        self.assertEqual(c.cmd('CLIENT', 'SETNAME', ''), b'OK')
        self.assertIsNone(c.cmd('CLIENT', 'GETNAME'))

    def test_client_list_and_info(self):
        a, b = self.conn(), self.conn()
        a.cmd('CLIENT', 'SETNAME', 'alpha')
        b.cmd('SELECT', '2')
        ida, idb = a.cmd('CLIENT', 'ID'), b.cmd('CLIENT', 'ID')
        lines = client_lines(a.cmd('CLIENT', 'LIST'))
        byid = {int(l['id']): l for l in lines}
        self.assertIn(ida, byid)
        self.assertIn(idb, byid)
        self.assertEqual(byid[ida]['name'], 'alpha')
        self.assertEqual(byid[ida]['cmd'], 'client|list')
        self.assertEqual(byid[idb]['db'], '2')
        self.assertEqual(byid[idb]['cmd'], 'client')  # its last command
        self.assertEqual(byid[idb]['flags'], 'N')
        # Oldest first, as Redis lists them.
        ids = [int(l['id']) for l in lines]
        self.assertEqual(ids, sorted(ids))
        # addr / laddr are the real socket addresses.
        sa = a.sock.getsockname()
        self.assertEqual(byid[ida]['addr'], '%s:%d' % sa[:2])
        self.assertEqual(byid[ida]['laddr'], '%s:%d' % (self.server.host, self.server.port))
        # CLIENT INFO: the caller's own line.
        mine = client_lines(a.cmd('CLIENT', 'INFO'))
        self.assertEqual(len(mine), 1)
        self.assertEqual(int(mine[0]['id']), ida)
        self.assertEqual(mine[0]['cmd'], 'client|info')
        # Filters.
        only = client_lines(a.cmd('CLIENT', 'LIST', 'ID', str(idb), '999999', str(ida)))
        self.assertEqual([int(l['id']) for l in only], [idb, ida])
        normal = client_lines(a.cmd('CLIENT', 'LIST', 'TYPE', 'normal'))
        self.assertTrue({ida, idb} <= {int(l['id']) for l in normal})
        self.assertEqual(a.cmd('CLIENT', 'LIST', 'TYPE', 'pubsub'), b'')
        self.assertEqual(a.cmd('CLIENT', 'LIST', 'TYPE', 'replica'), b'')
        # redis-py's parser takes the lines.
        names = [c['name'] for c in self.r.client_list()]
        self.assertIn('alpha', names)

    def test_client_setinfo(self):
        c = self.conn()
        self.assertEqual(c.cmd('CLIENT', 'SETINFO', 'LIB-NAME', 'mylib'), b'OK')
        self.assertEqual(c.cmd('CLIENT', 'SETINFO', 'lib-ver', '1.2.3'), b'OK')
        info = client_lines(c.cmd('CLIENT', 'INFO'))[0]
        self.assertEqual((info['lib-name'], info['lib-ver']), ('mylib', '1.2.3'))
        self.assertEqual(c.cmd('CLIENT', 'SETINFO', 'foo', 'x'),
                         Error(b"ERR Unrecognized option 'foo'"))
        self.assertEqual(c.cmd('CLIENT', 'SETINFO', 'lib-name', 'a b'),
                         Error(b'ERR lib-name cannot contain spaces, newlines '
                               b'or special characters.'))

    def test_client_help(self):
        c = self.conn()
        lines = c.cmd('CLIENT', 'HELP')
        self.assertEqual(lines[0], Simple(b'CLIENT <subcommand> [<arg> [value] '
                                          b'[opt] ...]. Subcommands are:'))
        self.assertEqual(lines[-2:], [b'HELP', b'    Prints this help.'])
        self.assertIn(b'KILL <ip:port>', lines)

    def test_client_kill_old_form_closes_the_victim(self):
        victim = self.raw()
        harness.roundtrip(victim, b'PING\r\n')
        addr = '%s:%d' % victim.getsockname()[:2]
        c = self.conn()
        self.assertEqual(c.cmd('CLIENT', 'KILL', addr), b'OK')
        self.assertTrue(harness.is_closed(victim))
        victim.close()
        self.assertEqual(c.cmd('CLIENT', 'KILL', addr),
                         Error(b'ERR No such client'))
        self.assertEqual(c.cmd('PING'), b'PONG')

    def test_client_kill_filters(self):
        c = self.conn()
        v1, v2 = self.conn(), self.conn()
        id1, id2 = v1.cmd('CLIENT', 'ID'), v2.cmd('CLIENT', 'ID')
        mine = c.cmd('CLIENT', 'ID')
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ID', str(id1)), 1)
        self.assertTrue(harness.is_closed(v1.sock))
        # SKIPME yes (the default): the caller is spared.
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ID', str(mine)), 0)
        addr2 = '%s:%d' % v2.sock.getsockname()[:2]
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ADDR', addr2, 'LADDR', '1.1.1.1:1'), 0)
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ADDR', addr2, 'TYPE', 'pubsub'), 0)
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ADDR', addr2, 'USER', 'default',
                               'TYPE', 'normal'), 1)
        self.assertTrue(harness.is_closed(v2.sock))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ids = {int(l['id']) for l in client_lines(c.cmd('CLIENT', 'LIST'))}
            if not ids & {id1, id2}:
                break
            time.sleep(0.05)
        self.assertFalse(ids & {id1, id2})
        # SKIPME no: the caller gets its reply, then is closed.
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ID', str(mine), 'SKIPME', 'no'), 1)
        self.assertTrue(harness.is_closed(c.sock))

    def test_client_kill_type_pubsub(self):
        sub = self.conn()
        sub.send('PSUBSCRIBE', 'news.*')
        self.assertEqual(sub.read(), [b'psubscribe', b'news.*', 1])
        c = self.conn()
        info = client_lines(c.cmd('CLIENT', 'LIST', 'TYPE', 'pubsub'))
        self.assertEqual((len(info), info[0]['psub'], info[0]['flags']), (1, '1', 'P'))
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1)
        self.assertTrue(harness.is_closed(sub.sock))


class AuthTest(harness.ServerTest):
    """requirepass: NOAUTH before AUTH, Redis's pre-auth protocol limits."""

    server_args = ['--requirepass', 's3cret']
    password = 's3cret'

    def conn(self):
        c = Conn.tcp(self.server.host, self.server.port)
        self.addCleanup(c.close)
        return c

    def test_noauth_until_auth(self):
        c = self.conn()
        self.assertEqual(c.call('PING'), b'-NOAUTH Authentication required.\r\n')
        self.assertEqual(c.call('GET', 'k'), b'-NOAUTH Authentication required.\r\n')
        # Unknown commands and arity come first, as in Redis.
        self.assertTrue(c.call('NOSUCH').startswith(b"-ERR unknown command 'NOSUCH'"))
        self.assertEqual(c.call('AUTH', 'wrong'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('AUTH', 'default', 'wrong'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('AUTH', 'someone', 's3cret'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('AUTH', 's3cre'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('AUTH', 's3cretX'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('PING'), b'-NOAUTH Authentication required.\r\n')
        self.assertEqual(c.call('AUTH', 's3cret'), b'+OK\r\n')
        self.assertEqual(c.call('PING'), b'+PONG\r\n')
        c2 = self.conn()
        self.assertEqual(c2.call('AUTH', 'default', 's3cret'), b'+OK\r\n')
        self.assertEqual(c2.call('PING'), b'+PONG\r\n')

    def test_allowed_before_auth(self):
        c = self.conn()
        self.assertEqual(c.call('RESET'), b'+RESET\r\n')
        self.assertEqual(
            c.call('HELLO', '3'),
            b'-NOAUTH HELLO must be called with the client already authenticated, '
            b'otherwise the HELLO AUTH <user> <pass> option can be used to '
            b'authenticate the client and select the RESP protocol version at '
            b'the same time\r\n')
        self.assertEqual(c.call('HELLO', '3', 'AUTH', 'default', 'nope'),
                         b'-WRONGPASS invalid username-password pair or user is disabled.\r\n')
        self.assertEqual(c.call('QUIT'), b'+OK\r\n')
        self.assertTrue(harness.is_closed(c.sock))

    def test_hello_auth(self):
        c = self.conn()
        reply = c.cmd('HELLO', '3', 'AUTH', 'default', 's3cret', 'SETNAME', 'h')
        self.assertEqual(reply[b'proto'], 3)
        self.assertEqual(c.call('GET', 'missing'), b'_\r\n')
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'h')
        # RESET drops the authentication (a password is configured).
        self.assertEqual(c.call('RESET'), b'+RESET\r\n')
        self.assertEqual(c.call('PING'), b'-NOAUTH Authentication required.\r\n')

    def test_preauth_protocol_limits(self):
        # Redis refuses big requests before AUTH: more than 10 arguments...
        s = self.raw()
        got = harness.roundtrip(s, b'*11\r\n', expect_close=True)
        self.assertEqual(got, b'-ERR Protocol error: unauthenticated multibulk length\r\n')
        s.close()
        # ... or a bulk longer than 16 KB.
        s = self.raw()
        got = harness.roundtrip(s, b'*2\r\n$4\r\nAUTH\r\n$16385\r\n', expect_close=True)
        self.assertEqual(got, b'-ERR Protocol error: unauthenticated bulk length\r\n')
        s.close()
        # After AUTH the normal limits apply.
        c = self.conn()
        self.assertEqual(c.cmd('AUTH', 's3cret'), b'OK')
        self.assertEqual(c.cmd('SET', 'big', 'x' * 20000), b'OK')
        self.assertEqual(c.cmd('DEL', *['k%d' % i for i in range(20)]), 0)

    def test_redis_py_with_password(self):
        self.assertTrue(self.r.ping())
        r = self.server.client()  # no password
        with self.assertRaises(harness.redis.exceptions.AuthenticationError):
            r.ping()
        r.close()

    def test_config_set_requirepass(self):
        c = self.conn()
        c.cmd('AUTH', 's3cret')
        try:
            self.assertEqual(c.cmd('CONFIG', 'SET', 'requirepass', 'other pw'), b'OK')
            self.assertEqual(c.cmd('CONFIG', 'GET', 'requirepass'),
                             [b'requirepass', b'other pw'])
            # The connection stays authenticated; new ones need the new one.
            self.assertEqual(c.cmd('PING'), b'PONG')
            d = self.conn()
            self.assertIsInstance(d.cmd('AUTH', 's3cret'), Error)
            self.assertEqual(d.cmd('AUTH', 'other pw'), b'OK')
        finally:
            self.assertEqual(c.cmd('CONFIG', 'SET', 'requirepass', 's3cret'), b'OK')

    def test_clearing_requirepass_lets_waiting_clients_in(self):
        # As Redis's authRequired(): the check is against the password set
        # now, not the one set when the client connected.
        admin = self.conn()
        self.assertEqual(admin.cmd('AUTH', 's3cret'), b'OK')
        waiting = self.conn()
        self.assertEqual(waiting.call('PING'), b'-NOAUTH Authentication required.\r\n')
        try:
            self.assertEqual(admin.cmd('CONFIG', 'SET', 'requirepass', ''), b'OK')
            self.assertEqual(waiting.call('PING'), b'+PONG\r\n')
            # The pre-auth protocol limits are lifted with it.
            self.assertEqual(waiting.cmd('DEL', *['k%d' % i for i in range(20)]), 0)
        finally:
            self.assertEqual(admin.cmd('CONFIG', 'SET', 'requirepass', 's3cret'), b'OK')
        # It never authenticated: with a password again, it is held again.
        self.assertEqual(waiting.call('PING'), b'-NOAUTH Authentication required.\r\n')


if __name__ == '__main__':
    harness.main()
