"""test_protocol.py - the wire protocol as raw bytes, the way Redis 7.0
answers it (every expectation below was checked against redis-server
7.0.15): inline commands, pipelining, requests cut anywhere, protocol
errors (exact text, then the connection closes and the server carries
on), arity and unknown-command errors (the connection stays), and binary
safety."""

import socket
import threading
import time

import harness
from harness import recv_exact, mbulk, bulk


class ProtocolTest(harness.ServerTest):

    def setUp(self):
        # No redis-py FLUSHALL here: these tests must not depend on more
        # than the connection layer and PING/ECHO (SET/GET where noted).
        pass

    def tearDown(self):
        if not self.server.alive():
            self.fail('the server died:\n' + self.server.log_text())

    def has_command(self, name):
        s = self.raw()
        try:
            reply = harness.roundtrip(s, mbulk(name))
        finally:
            s.close()
        return not reply.startswith(b'-ERR unknown command')

    def assert_serving(self):
        """Another client still gets served."""
        s = self.raw()
        try:
            self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        finally:
            s.close()

    # ---- inline commands ---------------------------------------------------

    def test_inline_ping(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        # redis-benchmark's PING_INLINE, a bare LF, spaces, any case.
        self.assertEqual(harness.roundtrip(s, b'PING\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'   PING   \r\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'pInG\r\n'), b'+PONG\r\n')
        s.close()

    def test_inline_quotes(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'ECHO "hello world"\r\n'),
                         bulk(b'hello world'))
        self.assertEqual(harness.roundtrip(s, b"ECHO 'single quoted'\r\n"),
                         bulk(b'single quoted'))
        # Escapes inside double quotes, as sdssplitargs reads them.
        self.assertEqual(harness.roundtrip(s, b'ECHO "a\\x41\\n"\r\n'),
                         bulk(b'aA\n'))
        self.assertEqual(harness.roundtrip(s, b'ECHO "\\z"\r\n'), bulk(b'z'))
        self.assertEqual(harness.roundtrip(s, b'ECHO "a\\"b"\r\n'),
                         bulk(b'a"b'))
        s.close()

    def test_empty_lines_and_empty_multibulk_are_skipped(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'\r\n\r\nPING\r\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'*0\r\nPING\r\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'*-10\r\nPING\r\n'), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, b'*-1\r\nPING\r\n'), b'+PONG\r\n')
        s.close()

    # ---- pipelining ----------------------------------------------------------

    def test_pipeline_10000_in_one_send(self):
        n = 10000
        req = b''.join(mbulk('ECHO', str(i)) for i in range(n))
        want = b''.join(bulk(str(i).encode()) for i in range(n))
        s = self.raw()
        # The replies may fill our receive buffer while we are still
        # sending: send from another thread.
        t = threading.Thread(target=s.sendall, args=(req,))
        t.start()
        got = recv_exact(s, len(want))
        t.join()
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)  # every reply, in order
        s.close()

    def test_pipeline_mixed_inline_and_multibulk(self):
        s = self.raw()
        req = b'PING\r\n' + mbulk('ECHO', 'x') + b'ECHO y\r\n' + mbulk('PING')
        want = b'+PONG\r\n' + bulk(b'x') + bulk(b'y') + b'+PONG\r\n'
        s.sendall(req)
        self.assertEqual(recv_exact(s, len(want)), want)
        s.close()

    # ---- requests cut anywhere -------------------------------------------------

    def test_request_byte_by_byte(self):
        s = self.raw()
        req = mbulk('ECHO', 'hello\r\nworld')
        for i in range(len(req)):
            s.sendall(req[i:i + 1])
            time.sleep(0.002)
        self.assertEqual(recv_exact(s, len(bulk(b'hello\r\nworld'))),
                         bulk(b'hello\r\nworld'))
        # Inline, byte by byte.
        for ch in b'ECHO "a b"\r\n':
            s.sendall(bytes([ch]))
            time.sleep(0.002)
        self.assertEqual(recv_exact(s, len(bulk(b'a b'))), bulk(b'a b'))
        s.close()

    def test_request_split_at_every_offset(self):
        req = mbulk('ECHO', 'abcdef')
        want = bulk(b'abcdef')
        s = self.raw()
        for i in range(1, len(req)):
            s.sendall(req[:i])
            time.sleep(0.005)
            s.sendall(req[i:])
            self.assertEqual(recv_exact(s, len(want)), want, 'split at %d' % i)
        s.close()

    def test_big_bulk_in_pieces(self):
        value = bytes(range(256)) * 4096  # 1 MB, every byte value
        req = mbulk(b'ECHO', value)
        s = self.raw()
        for off in range(0, len(req), 100000):
            s.sendall(req[off:off + 100000])
        self.assertEqual(recv_exact(s, len(bulk(value))), bulk(value))
        s.close()

    # ---- protocol errors: reply, close, the server goes on ---------------------

    PROTOCOL_ERRORS = [
        (b'*3000000000\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*abc\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*01\r\n$4\r\nPING\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*+1\r\n$4\r\nPING\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*1\r\nfoo\r\n', b"-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b'*1\r\n$-5\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$-1\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$abc\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$04\r\nPING\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$536870913\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'SET "a b\r\n', b'-ERR Protocol error: unbalanced quotes in request\r\n'),
        (b'ECHO "a"b\r\n', b'-ERR Protocol error: unbalanced quotes in request\r\n'),
        (b"ECHO 'it''s'\r\n", b'-ERR Protocol error: unbalanced quotes in request\r\n'),
    ]

    def test_protocol_errors(self):
        for req, err in self.PROTOCOL_ERRORS:
            with self.subTest(req=req):
                s = self.raw()
                s.sendall(req)
                got = harness.read_some(s, timeout=5, until_close=True)
                self.assertEqual(got, err)  # the error, then EOF
                s.close()
                self.assert_serving()

    def test_replies_before_a_protocol_error_are_sent(self):
        s = self.raw()
        s.sendall(b'PING\r\n' + mbulk('ECHO', 'x') + b'*1\r\nx\r\nPING\r\n')
        got = harness.read_some(s, timeout=5, until_close=True)
        self.assertEqual(got, b"+PONG\r\n" + bulk(b'x') +
                         b"-ERR Protocol error: expected '$', got 'x'\r\n")
        s.close()
        self.assert_serving()

    def test_max_bulk_len_itself_is_accepted(self):
        # 512 MB exactly is allowed: the server waits for the data.
        s = self.raw()
        s.sendall(b'*1\r\n$536870912\r\n')
        s.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            s.recv(100)
        s.close()
        self.assert_serving()

    # ---- errors that keep the connection ----------------------------------------

    def test_unknown_command(self):
        s = self.raw()
        self.assertEqual(
            harness.roundtrip(s, b'foo a b\r\n'),
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n")
        self.assertEqual(
            harness.roundtrip(s, b':1\r\n'),
            b"-ERR unknown command ':1', with args beginning with: \r\n")
        self.assertEqual(
            harness.roundtrip(s, mbulk('PINGX')),
            b"-ERR unknown command 'PINGX', with args beginning with: \r\n")
        # The empty name; then the connection still works.
        self.assertEqual(
            harness.roundtrip(s, mbulk('') + b'PING\r\n'),
            b"-ERR unknown command '', with args beginning with: \r\n+PONG\r\n")
        s.close()

    def test_unknown_command_args_truncated_like_redis(self):
        s = self.raw()
        # One long argument: cut to 128 bytes.
        self.assertEqual(
            harness.roundtrip(s, b'foo ' + b'x' * 200 + b' y\r\n'),
            b"-ERR unknown command 'foo', with args beginning with: '" +
            b'x' * 128 + b"' \r\n")
        # Arguments are added while the text is under 128 bytes, the last
        # one cut to what is left.
        self.assertEqual(
            harness.roundtrip(s, b'foo ' + b'x' * 40 + b' ' + b'y' * 40 + b' ' +
                              b'z' * 40 + b' w\r\n'),
            b"-ERR unknown command 'foo', with args beginning with: '" +
            b'x' * 40 + b"' '" + b'y' * 40 + b"' '" + b'z' * 40 + b"' \r\n")
        self.assertEqual(
            harness.roundtrip(s, b'foo ' + b'a' * 100 + b' ' + b'b' * 100 + b'\r\n'),
            b"-ERR unknown command 'foo', with args beginning with: '" +
            b'a' * 100 + b"' '" + b'b' * 25 + b"' \r\n")
        # A long name: cut to 128 bytes.
        self.assertEqual(
            harness.roundtrip(s, b'q' * 300 + b'\r\n'),
            b"-ERR unknown command '" + b'q' * 128 +
            b"', with args beginning with: \r\n")
        s.close()

    def test_unknown_command_binary_args(self):
        s = self.raw()
        # CR/LF become spaces; a NUL ends the text (printf's %s).
        self.assertEqual(
            harness.roundtrip(s, mbulk('foo', 'a\r\nbc')),
            b"-ERR unknown command 'foo', with args beginning with: 'a  bc' \r\n")
        self.assertEqual(
            harness.roundtrip(s, mbulk('foo', b'a\x00bcd')),
            b"-ERR unknown command 'foo', with args beginning with: 'a' \r\n")
        self.assertEqual(
            harness.roundtrip(s, mbulk(b'f\x00o')),
            b"-ERR unknown command 'f', with args beginning with: \r\n")
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        s.close()

    def test_arity_errors_keep_the_connection(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'ECHO\r\n'),
                         b"-ERR wrong number of arguments for 'echo' command\r\n")
        self.assertEqual(harness.roundtrip(s, mbulk('EcHo', 'a', 'b')),
                         b"-ERR wrong number of arguments for 'echo' command\r\n")
        if self.has_command('get'):
            self.assertEqual(harness.roundtrip(s, mbulk('GET')),
                             b"-ERR wrong number of arguments for 'get' command\r\n")
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        s.close()

    def test_container_command_errors(self):
        s = self.raw()
        if harness.roundtrip(s, mbulk('CLIENT', 'ID')).startswith(b'-ERR unknown command'):
            self.skipTest('CLIENT is not implemented yet')
        self.assertEqual(harness.roundtrip(s, b'CLIENT\r\n'),
                         b"-ERR wrong number of arguments for 'client' command\r\n")
        self.assertEqual(harness.roundtrip(s, b'CLIENT FOO\r\n'),
                         b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n")
        self.assertEqual(harness.roundtrip(s, b'client Foo' + b'x' * 200 + b'\r\n'),
                         b"-ERR unknown subcommand 'Foo" + b'x' * 125 +
                         b"'. Try CLIENT HELP.\r\n")
        self.assertEqual(harness.roundtrip(s, b'cLiEnT kIlL\r\n'),
                         b"-ERR wrong number of arguments for 'client|kill' command\r\n")
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        s.close()

    def test_resp2_subscribed_mode(self):
        s = self.raw()
        reply = harness.roundtrip(s, mbulk('SUBSCRIBE', 'ch'))
        if reply.startswith(b'-ERR unknown command'):
            self.skipTest('SUBSCRIBE is not implemented yet')
        self.assertEqual(reply, b'*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n')
        ctx = (b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
               b"RESET are allowed in this context\r\n")
        self.assertEqual(harness.roundtrip(s, b'ECHO x\r\n'),
                         b"-ERR Can't execute 'echo" + ctx)
        self.assertEqual(harness.roundtrip(s, b'CLIENT LIST\r\n'),
                         b"-ERR Can't execute 'client|list" + ctx)
        # Unknown commands and arity come first, as in Redis.
        self.assertEqual(harness.roundtrip(s, b'foo\r\n'),
                         b"-ERR unknown command 'foo', with args beginning with: \r\n")
        self.assertEqual(harness.roundtrip(s, b'ECHO\r\n'),
                         b"-ERR wrong number of arguments for 'echo' command\r\n")
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'),
                         b'*2\r\n$4\r\npong\r\n$0\r\n\r\n')
        self.assertEqual(harness.roundtrip(s, mbulk('UNSUBSCRIBE')),
                         b'*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, b'ECHO x\r\n'), bulk(b'x'))
        s.close()

    def test_quit_closes_after_its_reply(self):
        s = self.raw()
        s.sendall(b'PING\r\nQUIT\r\nPING\r\n')
        got = harness.read_some(s, timeout=5, until_close=True)
        self.assertEqual(got, b'+PONG\r\n+OK\r\n')
        s.close()

    # ---- binary safety -----------------------------------------------------------

    def test_binary_echo(self):
        s = self.raw()
        for v in [b'', b'\x00', b'a\x00b\r\nc\n\r', bytes(range(256))]:
            self.assertEqual(harness.roundtrip(s, mbulk(b'ECHO', v)), bulk(v))
        s.close()

    def test_binary_keys_and_values(self):
        if not (self.has_command('set') and self.has_command('get')):
            self.skipTest('SET/GET are not implemented yet')
        s = self.raw()
        pairs = [(b'k\x00ey', b'v\x00al'), (b'k\r\n', b'\r\n\r\n'),
                 (b'\x00', b''), (bytes(range(256)), bytes(range(255, -1, -1)))]
        for k, v in pairs:
            self.assertEqual(harness.roundtrip(s, mbulk(b'SET', k, v)), b'+OK\r\n')
        for k, v in pairs:
            self.assertEqual(harness.roundtrip(s, mbulk(b'GET', k)), bulk(v))
        # The key with a NUL is not the key cut at the NUL.
        self.assertEqual(harness.roundtrip(s, mbulk(b'GET', b'k')), b'$-1\r\n')
        s.close()

    def test_pipelined_set_get(self):
        if not (self.has_command('set') and self.has_command('get')):
            self.skipTest('SET/GET are not implemented yet')
        n = 5000
        req = b''.join(mbulk('SET', 'pk:%d' % i, 'v%d' % i) for i in range(n))
        req += b''.join(mbulk('GET', 'pk:%d' % i) for i in range(n))
        want = b'+OK\r\n' * n + b''.join(bulk(b'v%d' % i) for i in range(n))
        s = self.raw()
        t = threading.Thread(target=s.sendall, args=(req,))
        t.start()
        got = recv_exact(s, len(want))
        t.join()
        self.assertEqual(got, want)
        s.close()


class AuthOrderTest(harness.ServerTest):
    """With requirepass: what comes before NOAUTH, and the parser's
    pre-AUTH limits."""
    server_args = ['--requirepass', 'pw']
    password = 'pw'

    def setUp(self):
        pass

    def tearDown(self):
        if not self.server.alive():
            self.fail('the server died:\n' + self.server.log_text())

    def test_checks_before_auth(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'GET x\r\n'),
                         b'-NOAUTH Authentication required.\r\n')
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'),
                         b'-NOAUTH Authentication required.\r\n')
        self.assertEqual(harness.roundtrip(s, b'foo\r\n'),
                         b"-ERR unknown command 'foo', with args beginning with: \r\n")
        self.assertEqual(harness.roundtrip(s, b'GET\r\n'),
                         b"-ERR wrong number of arguments for 'get' command\r\n")
        self.assertEqual(harness.roundtrip(s, b'CLIENT FOO\r\n'),
                         b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n")
        self.assertEqual(harness.roundtrip(s, b'AUTH pw\r\n'), b'+OK\r\n')
        self.assertEqual(harness.roundtrip(s, b'PING\r\n'), b'+PONG\r\n')
        s.close()

    def test_pre_auth_limits(self):
        for req, err in [
                (b'*11\r\n', b'-ERR Protocol error: unauthenticated multibulk length\r\n'),
                (b'*2\r\n$3\r\nGET\r\n$16385\r\n',
                 b'-ERR Protocol error: unauthenticated bulk length\r\n')]:
            s = self.raw()
            s.sendall(req)
            self.assertEqual(harness.read_some(s, timeout=5, until_close=True), err)
            s.close()
        # After AUTH the same requests are fine.
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, b'AUTH pw\r\n'), b'+OK\r\n')
        v = b'v' * 16385
        self.assertEqual(harness.roundtrip(s, mbulk(b'ECHO', v)), bulk(v))
        s.close()

    def test_quit_before_auth(self):
        s = self.raw()
        s.sendall(b'QUIT\r\n')
        self.assertEqual(harness.read_some(s, timeout=5, until_close=True), b'+OK\r\n')
        s.close()


if __name__ == '__main__':
    harness.main()
