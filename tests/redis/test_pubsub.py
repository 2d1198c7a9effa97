"""test_pubsub.py - pub/sub against the real task-redis-server.

Replies are checked byte for byte (raw sockets) against what Redis 7.0.15
sends, in RESP2 and RESP3; delivery is checked for order and loss (every
subscriber's whole stream compared with the expected bytes); the output
limit is checked with subscribers that never read, on servers started
with small client-output-buffer-limit pubsub values.  redis-py's pubsub
API is used too, as a real client would.

Every socket has a timeout and every wait a deadline (harness.py).
"""

import random
import re
import selectors
import signal
import socket
import threading
import time
import unittest

import harness
from harness import bulk, recv_exact, rss_kb


def cmd(*args):
    """Encode one request as a RESP multibulk."""
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def agg(kind, *items):
    """An aggregate of already-encoded items: kind '*' (array) or '>' (push)."""
    return ('%s%d\r\n' % (kind, len(items))).encode() + b''.join(items)


def integer(n):
    return b':%d\r\n' % n


def confirm(word, name, count, resp=2):
    """A (un)subscribe confirmation as Redis 7.0 sends it."""
    return agg('>' if resp == 3 else '*', bulk(word),
               bulk(name) if name is not None else (b'_\r\n' if resp == 3 else b'$-1\r\n'),
               integer(count))


def message(channel, payload, resp=2, word='message'):
    return agg('>' if resp == 3 else '*', bulk(word), bulk(channel), bulk(payload))


def pmessage(pattern, channel, payload, resp=2):
    return agg('>' if resp == 3 else '*', bulk('pmessage'), bulk(pattern), bulk(channel),
               bulk(payload))


def nothing_more(sock, wait=0.3):
    """True when nothing arrives on @sock within @wait seconds (neither
    bytes nor EOF)."""
    sock.settimeout(wait)
    try:
        sock.recv(65536)
    except socket.timeout:
        return True
    return False


class Reader:
    """Decodes RESP2/RESP3 replies from a socket: arrays and pushes become
    lists, bulks bytes, integers int, null None."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError('EOF')
        self.buf += chunk

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b'*', b'>'):
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b'$':
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b':':
            return int(rest)
        if t == b'_':
            return None
        return line


def info_field(r, section, name):
    info = r.execute_command('INFO', section)
    if isinstance(info, bytes):
        info = info.decode()
    if isinstance(info, dict):  # redis-py parsed it
        return None if info.get(name) is None else str(info.get(name))
    m = re.search(r'^%s:(\S+)' % re.escape(name), info, re.M)
    return m.group(1) if m else None


def wait_until(pred, timeout=10.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class PubSubBase(harness.ServerTest):

    def sub(self, *channels, resp=2, kind='subscribe'):
        """A raw socket subscribed to @channels (confirmations consumed)."""
        s = self.raw()
        self.addCleanup(s.close)
        if resp == 3:
            s.sendall(cmd('HELLO', '3'))
            harness.read_some(s)
        s.sendall(cmd(kind.upper(), *channels))
        want = b''
        for i, ch in enumerate(channels):
            want += confirm(kind, ch, i + 1, resp)
        self.assertEqual(recv_exact(s, len(want)), want)
        return s

    def numsub(self, ch):
        return dict(self.r.pubsub_numsub(ch)).get(ch.encode() if isinstance(ch, str) else ch)


class Replies(PubSubBase):
    """Confirmations, messages and PUBSUB replies, byte for byte."""

    def test_subscribe_replies_resp2(self):
        s = self.raw()
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         b'*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PUNSUBSCRIBE')),
                         b'*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SUNSUBSCRIBE')),
                         b'*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n')
        # Not subscribed at all: each name is confirmed with count 0.
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE', 'x', 'y')),
                         confirm('unsubscribe', 'x', 0) + confirm('unsubscribe', 'y', 0))
        # A duplicate is confirmed again with the unchanged count.
        self.assertEqual(harness.roundtrip(s, cmd('SUBSCRIBE', 'a', 'b', 'a')),
                         b'*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n'
                         b'*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n'
                         b'*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n')
        # Patterns count with channels; shard channels on their own.
        self.assertEqual(harness.roundtrip(s, cmd('PSUBSCRIBE', 'p*', 'a')),
                         confirm('psubscribe', 'p*', 3) + confirm('psubscribe', 'a', 4))
        self.assertEqual(harness.roundtrip(s, cmd('SSUBSCRIBE', 'x', 'y')),
                         b'*3\r\n$10\r\nssubscribe\r\n$1\r\nx\r\n:1\r\n'
                         b'*3\r\n$10\r\nssubscribe\r\n$1\r\ny\r\n:2\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE', 'a', 'zz')),
                         confirm('unsubscribe', 'a', 3) + confirm('unsubscribe', 'zz', 3))
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         confirm('unsubscribe', 'b', 2))
        # Patterns go in the order they were subscribed (Redis's list).
        self.assertEqual(harness.roundtrip(s, cmd('PUNSUBSCRIBE')),
                         confirm('punsubscribe', 'p*', 1) + confirm('punsubscribe', 'a', 0))
        self.assertEqual(harness.roundtrip(s, cmd('SUNSUBSCRIBE')),
                         confirm('sunsubscribe', 'x', 1) + confirm('sunsubscribe', 'y', 0))
        # Out of subscribed mode: any command again.
        self.assertEqual(harness.roundtrip(s, cmd('GET', 'k')), b'$-1\r\n')
        s.close()

    def test_subscribe_replies_resp3(self):
        s = self.raw()
        harness.roundtrip(s, cmd('HELLO', '3'))
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         b'>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SUBSCRIBE', 'a')),
                         b'>3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PSUBSCRIBE', 'a*')),
                         b'>3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:2\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SSUBSCRIBE', 's')),
                         b'>3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n')
        # A subscriber that publishes gets its own message (and pmessage)
        # before PUBLISH's reply.
        self.assertEqual(harness.roundtrip(s, cmd('PUBLISH', 'a', 'hello')),
                         b'>3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n'
                         b'>4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$5\r\nhello\r\n'
                         b':2\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SPUBLISH', 's', 'm')),
                         b'>3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n:1\r\n')
        # RESP3: any command while subscribed; PING is a plain PONG.
        self.assertEqual(harness.roundtrip(s, cmd('GET', 'k')), b'_\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PING')), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PUBSUB', 'NUMSUB', 'a', 'b')),
                         b'*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         b'>3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PUNSUBSCRIBE')),
                         b'>3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SUNSUBSCRIBE')),
                         b'>3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         b'>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n')
        s.close()

    def test_message_formats(self):
        s2 = self.sub('ch')
        p2 = self.sub('c?', 'x[^y]*', kind='psubscribe')
        s3 = self.sub('ch', resp=3)
        p3 = self.sub('c*', resp=3, kind='psubscribe')
        payload = b'bin\r\n\x00\xff$3\r\n'
        self.assertEqual(self.r.publish('ch', payload), 4)
        self.assertEqual(recv_exact(s2, len(message('ch', payload))), message('ch', payload))
        self.assertEqual(recv_exact(s3, len(message('ch', payload, 3))), message('ch', payload, 3))
        self.assertEqual(recv_exact(p2, len(pmessage('c?', 'ch', payload))),
                         pmessage('c?', 'ch', payload))
        self.assertEqual(recv_exact(p3, len(pmessage('c*', 'ch', payload, 3))),
                         pmessage('c*', 'ch', payload, 3))
        # Empty payload, binary channel, a pattern with a class.
        self.assertEqual(self.r.publish('xz', b''), 1)
        want = pmessage('x[^y]*', 'xz', b'')
        self.assertEqual(recv_exact(p2, len(want)), want)
        self.assertEqual(self.r.publish('xy', b'no'), 0)
        self.assertTrue(nothing_more(p2))
        self.assertTrue(nothing_more(s2, 0.05))

    def test_publish_counts(self):
        self.assertEqual(self.r.publish('nobody', 'x'), 0)
        a = self.sub('news')
        b = self.sub('news', 'sports')
        # One client on the channel and on a matching pattern counts twice
        # and receives both.
        self.sub('n*', kind='psubscribe')
        both = self.sub('news')
        both.sendall(cmd('PSUBSCRIBE', 'ne?s'))
        self.assertEqual(recv_exact(both, len(confirm('psubscribe', 'ne?s', 2))),
                         confirm('psubscribe', 'ne?s', 2))
        self.assertEqual(self.r.publish('news', 'm'), 5)
        self.assertEqual(self.r.publish('sports', 'm'), 1)
        self.assertEqual(self.r.publish('nothing', 'm'), 1)  # n*
        want = message('news', 'm') + pmessage('ne?s', 'news', 'm')
        self.assertEqual(recv_exact(both, len(want)), want)
        # Shard channels are their own namespace.
        self.assertEqual(self.r.execute_command('SPUBLISH', 'news', 'm'), 0)
        a.close()
        b.close()

    def test_pubsub_introspection(self):
        self.assertEqual(self.r.pubsub_channels(), [])
        self.assertEqual(self.r.pubsub_numpat(), 0)
        self.sub('foo', 'bar')
        self.sub('foo', 'baz')
        self.sub('f*', 'b?r', kind='psubscribe')
        self.sub('f*', kind='psubscribe')
        self.sub('shard1', kind='ssubscribe')
        self.assertEqual(sorted(self.r.pubsub_channels()), [b'bar', b'baz', b'foo'])
        self.assertEqual(sorted(self.r.pubsub_channels('ba*')), [b'bar', b'baz'])
        self.assertEqual(self.r.pubsub_channels('nomatch*'), [])
        self.assertEqual(self.r.pubsub_numsub('foo', 'bar', 'none'),
                         [(b'foo', 2), (b'bar', 1), (b'none', 0)])
        self.assertEqual(self.r.pubsub_numpat(), 2)  # unique patterns (7.0)
        self.assertEqual(self.r.execute_command('PUBSUB', 'SHARDCHANNELS'), [b'shard1'])
        self.assertEqual(self.r.execute_command('PUBSUB', 'SHARDNUMSUB', 'shard1', 'x'),
                         [b'shard1', 1, b'x', 0])
        self.assertEqual(self.r.execute_command('PUBSUB', 'NUMSUB'), [])
        self.assertEqual(info_field(self.r, 'stats', 'pubsub_channels'), '3')
        self.assertEqual(info_field(self.r, 'stats', 'pubsub_patterns'), '2')
        self.assertEqual(info_field(self.r, 'stats', 'pubsubshard_channels'), '1')

    def test_pubsub_help_and_errors(self):
        s = self.raw()
        help_ = harness.roundtrip(s, cmd('PUBSUB', 'HELP'))
        self.assertTrue(help_.startswith(
            b'*14\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n'
            b'+CHANNELS [<pattern>]\r\n'), help_)
        self.assertTrue(help_.endswith(b'+HELP\r\n+    Prints this help.\r\n'), help_)
        for req, want in [
            (cmd('PUBSUB'), b"-ERR wrong number of arguments for 'pubsub' command\r\n"),
            (cmd('PUBSUB', 'foo'), b"-ERR unknown subcommand 'foo'. Try PUBSUB HELP.\r\n"),
            (cmd('PUBSUB', 'CHANNELS', 'a', 'b'),
             b"-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. "
             b"Try PUBSUB HELP.\r\n"),
            (cmd('PUBSUB', 'shardchannels', 'a', 'b'),
             b"-ERR unknown subcommand or wrong number of arguments for 'shardchannels'. "
             b"Try PUBSUB HELP.\r\n"),
            (cmd('PUBSUB', 'NUMPAT', 'x'),
             b"-ERR wrong number of arguments for 'pubsub|numpat' command\r\n"),
            (cmd('PUBSUB', 'HELP', 'x'),
             b"-ERR wrong number of arguments for 'pubsub|help' command\r\n"),
            (cmd('PUBSUB', 'numpat'), b':0\r\n'),
            (cmd('PUBSUB', 'NUMSUB'), b'*0\r\n'),
            (cmd('PUBSUB', 'CHANNELS', '['), b'*0\r\n'),
            (cmd('PUBLISH', 'a'), b"-ERR wrong number of arguments for 'publish' command\r\n"),
            (cmd('SPUBLISH', 'a'), b"-ERR wrong number of arguments for 'spublish' command\r\n"),
            (cmd('SUBSCRIBE'), b"-ERR wrong number of arguments for 'subscribe' command\r\n"),
            (cmd('PSUBSCRIBE'), b"-ERR wrong number of arguments for 'psubscribe' command\r\n"),
            (cmd('SSUBSCRIBE'), b"-ERR wrong number of arguments for 'ssubscribe' command\r\n"),
        ]:
            self.assertEqual(harness.roundtrip(s, req), want, req)
        s.close()


class SubscribedMode(PubSubBase):
    """What a subscribed client may run, in RESP2 and RESP3."""

    def test_resp2_rules(self):
        s = self.sub('c')
        self.assertEqual(
            harness.roundtrip(s, cmd('GET', 'k')),
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
            b"QUIT / RESET are allowed in this context\r\n")
        self.assertEqual(harness.roundtrip(s, cmd('PING')), b'*2\r\n$4\r\npong\r\n$0\r\n\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PING', 'hi')),
                         b'*2\r\n$4\r\npong\r\n$2\r\nhi\r\n')
        # Still subscribed after the refusal: messages keep coming.
        self.assertEqual(self.r.publish('c', 'after'), 1)
        self.assertEqual(recv_exact(s, len(message('c', 'after'))), message('c', 'after'))
        self.assertEqual(harness.roundtrip(s, cmd('UNSUBSCRIBE')),
                         confirm('unsubscribe', 'c', 0))
        self.assertEqual(harness.roundtrip(s, cmd('PING')), b'+PONG\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('SET', 'k', 'v')), b'+OK\r\n')

    def test_resp3_any_command(self):
        s = self.sub('c', resp=3)
        self.assertEqual(harness.roundtrip(s, cmd('SET', 'k', 'v')), b'+OK\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('GET', 'k')), b'$1\r\nv\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PING')), b'+PONG\r\n')

    def test_pipeline_order(self):
        """Replies before, between and after (un)subscribe confirmations stay
        in order, in one batch."""
        self.r.set('k', 'v')
        s = self.raw()
        req = (cmd('GET', 'k') + cmd('SUBSCRIBE', 'c1') + cmd('PING') +
               cmd('PSUBSCRIBE', 'z*') + cmd('PING', 'x') + cmd('UNSUBSCRIBE') +
               cmd('PUNSUBSCRIBE') + cmd('GET', 'k'))
        want = (b'$1\r\nv\r\n' + confirm('subscribe', 'c1', 1) +
                b'*2\r\n$4\r\npong\r\n$0\r\n\r\n' + confirm('psubscribe', 'z*', 2) +
                b'*2\r\n$4\r\npong\r\n$1\r\nx\r\n' + confirm('unsubscribe', 'c1', 1) +
                confirm('punsubscribe', 'z*', 0) + b'$1\r\nv\r\n')
        s.sendall(req)
        self.assertEqual(recv_exact(s, len(want)), want)
        self.assertTrue(nothing_more(s))
        s.close()

    def test_reset_leaves_subscribed_mode(self):
        s = self.sub('c')
        s.sendall(cmd('PSUBSCRIBE', 'p*'))
        recv_exact(s, len(confirm('psubscribe', 'p*', 2)))
        self.assertEqual(harness.roundtrip(s, cmd('RESET')), b'+RESET\r\n')
        self.assertTrue(wait_until(lambda: self.numsub('c') == 0))
        self.assertEqual(self.r.pubsub_numpat(), 0)
        self.assertEqual(self.r.publish('c', 'x'), 0)
        self.assertEqual(harness.roundtrip(s, cmd('GET', 'k')), b'$-1\r\n')
        self.assertEqual(harness.roundtrip(s, cmd('PING')), b'+PONG\r\n')
        # It can subscribe again, and the messages come after.
        self.assertEqual(harness.roundtrip(s, cmd('SUBSCRIBE', 'c')),
                         confirm('subscribe', 'c', 1))
        self.assertEqual(self.r.publish('c', 'y'), 1)
        self.assertEqual(recv_exact(s, len(message('c', 'y'))), message('c', 'y'))

    def test_reset_after_queued_messages(self):
        """RESET's reply comes after the messages queued before it, even when
        the subscriber reads them late (and none is lost)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(harness.IO_TIMEOUT)
        s.connect((self.server.host, self.server.port))
        self.addCleanup(s.close)
        s.sendall(cmd('SUBSCRIBE', 'q'))
        self.assertEqual(recv_exact(s, len(confirm('subscribe', 'q', 1))),
                         confirm('subscribe', 'q', 1))
        msgs = [b'%05d' % i + b'q' * 10000 for i in range(1500)]  # 15 MB: under 32 MB,
        # more than the kernel's socket buffers hold
        pub = self.raw()
        for m in msgs:
            pub.sendall(cmd('PUBLISH', 'q', m))
            self.assertEqual(recv_exact(pub, 4), b':1\r\n')
        s.sendall(cmd('RESET') + cmd('GET', 'k'))
        # Read late: longer than a closing writer would wait for a reader.
        time.sleep(3)
        want = b''.join(message('q', m) for m in msgs) + b'+RESET\r\n' + b'$-1\r\n'
        self.assertEqual(recv_exact(s, len(want), timeout=20), want)
        self.assertTrue(nothing_more(s))
        pub.close()

    def test_client_list_and_kill(self):
        """CLIENT LIST shows the subscription counts (flags=P); CLIENT KILL
        TYPE pubsub closes subscribers, which unsubscribes them."""
        s = self.sub('l1', 'l2')
        s.sendall(cmd('PSUBSCRIBE', 'l*') + cmd('SSUBSCRIBE', 'ls'))
        want = confirm('psubscribe', 'l*', 3) + confirm('ssubscribe', 'ls', 1)
        self.assertEqual(recv_exact(s, len(want)), want)
        lines = [l for l in self.r.execute_command('CLIENT', 'LIST').decode().splitlines()
                 if ' sub=2 ' in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(' flags=P ', lines[0])
        self.assertIn(' psub=1 ', lines[0])
        self.assertIn(' ssub=1 ', lines[0])
        self.assertEqual(self.r.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1)
        self.assertTrue(harness.is_closed(s, timeout=5))
        self.assertTrue(wait_until(lambda: self.numsub('l1') == 0 and
                                   self.r.pubsub_numpat() == 0))

    def test_quit_while_subscribed(self):
        s = self.sub('c')
        self.assertEqual(harness.roundtrip(s, cmd('QUIT'), expect_close=True), b'+OK\r\n')
        self.assertTrue(wait_until(lambda: self.numsub('c') == 0))

    def test_quit_reply_is_the_last_thing_sent(self):
        """QUIT while someone floods the channel: +OK is the last bytes
        before EOF, as in Redis (a message published after the QUIT ran
        used to be queued after its +OK)."""
        stop = threading.Event()
        pub = self.raw()

        def flood():
            while not stop.is_set():
                pub.sendall(cmd('PUBLISH', 'qf', 'm') * 200)
                recv_exact(pub, 4 * 200)
        t = threading.Thread(target=flood)
        t.start()
        try:
            bad = []
            for _ in range(100):
                s = self.sub('qf')
                s.sendall(cmd('QUIT'))
                got = harness.read_some(s, timeout=5, until_close=True)
                if not got.endswith(b'+OK\r\n'):
                    bad.append(got[-40:])
                s.close()
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(bad, [])

    def test_unsubscribed_on_disconnect(self):
        s = self.sub('gone', 'gone2')
        s.sendall(cmd('PSUBSCRIBE', 'g*'))
        recv_exact(s, len(confirm('psubscribe', 'g*', 3)))
        s.sendall(cmd('SSUBSCRIBE', 'sg'))
        recv_exact(s, len(confirm('ssubscribe', 'sg', 1)))
        self.assertEqual(self.numsub('gone'), 1)
        s.close()
        self.assertTrue(wait_until(lambda: self.numsub('gone') == 0 and
                                   self.r.pubsub_numpat() == 0))
        self.assertEqual(self.r.pubsub_channels(), [])
        self.assertEqual(self.r.execute_command('PUBSUB', 'SHARDCHANNELS'), [])
        self.assertEqual(self.r.publish('gone', 'x'), 0)

    def test_redis_py_pubsub(self):
        p = self.client().pubsub()
        self.addCleanup(p.close)
        p.subscribe('rp')
        p.psubscribe('rp*')
        got = [p.get_message(timeout=2.0) for _ in range(2)]
        self.assertEqual([(m['type'], m['channel'], m['data']) for m in got],
                         [('subscribe', b'rp', 1), ('psubscribe', b'rp*', 2)])
        self.assertEqual(self.r.publish('rp', 'hi'), 2)
        m1 = p.get_message(timeout=2.0)
        m2 = p.get_message(timeout=2.0)
        self.assertEqual((m1['type'], m1['channel'], m1['data']), ('message', b'rp', b'hi'))
        self.assertEqual((m2['type'], m2['pattern'], m2['channel'], m2['data']),
                         ('pmessage', b'rp*', b'rp', b'hi'))
        p.ping()
        m = p.get_message(timeout=2.0)
        self.assertEqual(m['type'], 'pong')
        p.unsubscribe()
        p.punsubscribe()
        got = [p.get_message(timeout=2.0) for _ in range(2)]
        self.assertEqual(sorted(m['type'] for m in got), ['punsubscribe', 'unsubscribe'])


class Delivery(PubSubBase):
    """Order and loss under load."""

    def test_in_order_with_patterns(self):
        s = self.sub('ord')
        s.sendall(cmd('PSUBSCRIBE', 'o*'))
        recv_exact(s, len(confirm('psubscribe', 'o*', 2)))
        pub = self.raw()
        n = 500
        pub.sendall(b''.join(cmd('PUBLISH', 'ord', 'm%d' % i) for i in range(n)))
        self.assertEqual(recv_exact(pub, n * 4), b':2\r\n' * n)
        want = b''.join(message('ord', 'm%d' % i) + pmessage('o*', 'ord', 'm%d' % i)
                        for i in range(n))
        self.assertEqual(recv_exact(s, len(want)), want)
        pub.close()

    def test_quit_with_a_backlog_then_more_input(self):
        """A subscriber QUITs with 4 MB of messages still queued, reads
        slowly, and sends more after the QUIT: it gets every message, then
        +OK, then EOF.  (Its writer used to close the socket as soon as the
        last bytes were in the kernel: a close with unread input sends a
        reset, which threw away what the kernel had not sent yet.)"""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((self.server.host, self.server.port))
        self.addCleanup(s.close)
        s.sendall(cmd('SUBSCRIBE', 'qb'))
        self.assertEqual(recv_exact(s, len(confirm('subscribe', 'qb', 1))),
                         confirm('subscribe', 'qb', 1))
        pub = self.raw()
        n, msg = 40, b'q' * 100000
        pub.sendall(cmd('PUBLISH', 'qb', msg) * n)
        self.assertEqual(recv_exact(pub, 4 * n), b':1\r\n' * n)
        s.sendall(cmd('QUIT'))
        time.sleep(0.3)
        s.sendall(cmd('PING'))  # never read: the connection has ended
        time.sleep(0.3)
        got = harness.read_some(s, timeout=10, until_close=True)
        want = message('qb', msg) * n + b'+OK\r\n'
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)
        pub.close()

    def test_fanout_100_subscribers(self):
        nsubs, nmsgs = 100, 1000
        subs = [self.sub('fan') for _ in range(nsubs)]
        self.assertEqual(self.numsub('fan'), nsubs)
        payloads = [b'payload-%06d-' % i + b'x' * (i % 50) for i in range(nmsgs)]
        want = b''.join(message('fan', p) for p in payloads)
        got = {s.fileno(): bytearray() for s in subs}
        sel = selectors.DefaultSelector()
        for s in subs:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)

        def publish():
            pub = self.raw()
            try:
                for i in range(0, nmsgs, 100):
                    batch = payloads[i:i + 100]
                    pub.sendall(b''.join(cmd('PUBLISH', 'fan', p) for p in batch))
                    replies = recv_exact(pub, len(batch) * len(b':100\r\n'))
                    results.append(replies == b':%d\r\n' % nsubs * len(batch))
            finally:
                pub.close()

        results = []
        t = threading.Thread(target=publish)
        t.start()
        deadline = time.monotonic() + 60
        done = 0
        while done < nsubs and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                chunk = key.fileobj.recv(1 << 20)
                if not chunk:
                    sel.unregister(key.fileobj)
                    done += 1
                    continue
                buf = got[key.fileobj.fileno()]
                buf += chunk
                if len(buf) >= len(want):
                    sel.unregister(key.fileobj)
                    done += 1
        t.join(60)
        sel.close()
        self.assertEqual(results, [True] * (nmsgs // 100))
        for s in subs:
            self.assertEqual(bytes(got[s.fileno()]), want)

    def test_churn_while_publishing(self):
        """Subscribers come and go on shared channels while others publish;
        the server stays consistent (and TSan quiet)."""
        stop = time.monotonic() + 3.0
        errors = []

        def churn(seed):
            rnd = random.Random(seed)
            try:
                s = self.raw()
                while time.monotonic() < stop:
                    ch = 'churn%d' % rnd.randrange(8)
                    if rnd.random() < 0.5:
                        sub, unsub, arg = 'subscribe', 'unsubscribe', ch
                    else:
                        sub, unsub, arg = 'psubscribe', 'punsubscribe', ch[:-1] + '*'
                    if rnd.random() < 0.1:
                        # Leave subscribed, and go: the close unsubscribes.
                        s.sendall(cmd(sub, arg))
                        recv_exact(s, len(confirm(sub, arg, 1)))
                        s.close()
                        s = self.raw()
                        continue
                    s.sendall(cmd(sub, arg) + cmd(unsub))
                    # The confirmations, in order, with messages of the
                    # subscription (and only those) in between.
                    rd = Reader(s)
                    got = [rd.reply()]
                    while got[-1] != [unsub.encode(), arg.encode(), 0]:
                        got.append(rd.reply())
                    mid = got[1:-1]
                    ok = got[0] == [sub.encode(), arg.encode(), 1] and all(
                        m[0] in (b'message', b'pmessage') and
                        (m[1] == arg.encode()) and len(m) == (3 if sub == 'subscribe' else 4)
                        for m in mid)
                    if not ok:
                        errors.append(got)
                        break
                s.close()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        def publish(seed):
            rnd = random.Random(seed)
            try:
                r = self.client()
                while time.monotonic() < stop:
                    r.publish('churn%d' % rnd.randrange(8), 'x' * rnd.randrange(100))
                r.close()
            except Exception as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
        threads += [threading.Thread(target=publish, args=(100 + i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertTrue(wait_until(lambda: self.r.pubsub_channels() == [] and
                                   self.r.pubsub_numpat() == 0), self.r.pubsub_channels())
        self.assertTrue(self.server.alive())


class LimitBase(PubSubBase):

    def slow_subscriber(self, channel):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window, so the kernel holds little for it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(harness.IO_TIMEOUT)
        s.connect((self.server.host, self.server.port))
        self.addCleanup(s.close)
        s.sendall(cmd('SUBSCRIBE', channel))
        self.assertEqual(recv_exact(s, len(confirm('subscribe', channel, 1))),
                         confirm('subscribe', channel, 1))
        return s

    def disconnections(self):
        return int(info_field(self.r, 'stats', 'client_output_buffer_limit_disconnections')
                   or -1)


class OutputLimit(LimitBase):
    """client-output-buffer-limit pubsub: a subscriber that does not read
    is disconnected, the publisher never waits, memory stays bounded."""

    server_args = ['--client-output-buffer-limit', 'pubsub 1mb 512kb 1']

    def test_slow_subscriber_disconnected(self):
        before = self.disconnections()
        rss0 = rss_kb(self.server.proc.pid)
        slow = self.slow_subscriber('big')
        fast = self.sub('big')
        msg = b'x' * 100000
        one = message('big', msg)
        nmsgs = 600  # 60 MB through a 1 MB limit
        pub = self.raw()
        t0 = time.monotonic()
        counts = []
        peak = 0
        lost = 0
        for i in range(nmsgs):
            pub.sendall(cmd('PUBLISH', 'big', msg))
            counts.append(recv_exact(pub, 4))
            # The fast subscriber keeps up (it reads each message before
            # the next is published) and loses nothing.
            if recv_exact(fast, len(one)) != one:
                lost += 1
            if i % 50 == 0:
                peak = max(peak, rss_kb(self.server.proc.pid))
        elapsed = time.monotonic() - t0
        self.assertEqual(lost, 0)
        # The publisher was never held back by the slow reader (a generous
        # bound for a shared 2-core machine: 60 MB through loopback).
        self.assertLess(elapsed, 30)
        # Receivers: 2 while the slow one lived (even over the limit, as
        # Redis counts it until it is closed), then 1.
        self.assertEqual(counts[0], b':2\r\n')
        self.assertEqual(counts[-1], b':1\r\n')
        self.assertTrue(set(counts) <= {b':2\r\n', b':1\r\n'}, set(counts))
        self.assertEqual(self.numsub('big'), 1)
        # The slow one is closed: what the kernel held, then EOF.
        self.assertTrue(harness.is_closed(slow, timeout=10))
        self.assertEqual(self.disconnections(), before + 1)
        self.assertTrue(wait_until(lambda: 'scheduled to be closed ASAP for overcoming of '
                                   'output buffer limits' in self.server.log_text(),
                                   timeout=5), self.server.log_text()[-2000:])
        # Memory stayed bounded: far below the 60 MB that went through.
        self.assertLess(peak - rss0, 40 * 1024, (rss0, peak))
        pub.close()

    def test_config_set_limits(self):
        """CONFIG SET client-output-buffer-limit applies at once: with no
        pubsub limit, a subscriber that does not read stays (20 MB queued),
        and with the limit back it is closed at the next message."""
        self.r.config_set('client-output-buffer-limit', 'pubsub 0 0 0')
        self.addCleanup(self.r.config_set, 'client-output-buffer-limit', 'pubsub 1mb 512kb 1')
        slow = self.slow_subscriber('cfg')
        before = self.disconnections()
        pub = self.raw()
        msg = b'c' * 100000
        for _ in range(200):
            pub.sendall(cmd('PUBLISH', 'cfg', msg))
            self.assertEqual(recv_exact(pub, 4), b':1\r\n')
        self.assertEqual(self.numsub('cfg'), 1)
        self.assertEqual(self.disconnections(), before)
        self.r.config_set('client-output-buffer-limit', 'pubsub 1mb 512kb 1')
        pub.sendall(cmd('PUBLISH', 'cfg', msg))
        self.assertEqual(recv_exact(pub, 4), b':1\r\n')  # counted, then closed
        self.assertTrue(wait_until(lambda: self.numsub('cfg') == 0))
        self.assertTrue(harness.is_closed(slow, timeout=10))
        self.assertEqual(self.disconnections(), before + 1)
        pub.close()

    def test_replies_count_too(self):
        """A subscribed client's own replies are under the same limit (a
        RESP3 subscriber asking for big values without reading them)."""
        self.r.set('bigval', 'z' * 300000)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(harness.IO_TIMEOUT)
        s.connect((self.server.host, self.server.port))
        self.addCleanup(s.close)
        s.sendall(cmd('HELLO', '3') + cmd('SUBSCRIBE', 'r'))
        harness.read_some(s)
        before = self.disconnections()
        try:
            for _ in range(100):  # 30 MB of replies, never read
                s.sendall(cmd('GET', 'bigval') * 10)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(wait_until(lambda: self.numsub('r') == 0, timeout=10))
        self.assertEqual(self.disconnections(), before + 1)
        self.assertTrue(self.server.alive())


class SoftLimit(LimitBase):
    """Only the soft limit: above 512kb for more than 1 s, under no hard
    limit, the subscriber is disconnected too."""

    server_args = ['--client-output-buffer-limit', 'pubsub 0 512kb 1']

    def test_soft_limit_over_time(self):
        before = self.disconnections()
        slow = self.slow_subscriber('soft')
        pub = self.raw()
        msg = b'y' * 20000
        deadline = time.monotonic() + 30
        closed = False
        while time.monotonic() < deadline:
            pub.sendall(cmd('PUBLISH', 'soft', msg))
            self.assertIn(recv_exact(pub, 4), (b':1\r\n', b':0\r\n'))
            if self.numsub('soft') == 0:
                closed = True
                break
            time.sleep(0.005)
        self.assertTrue(closed, 'the soft limit never disconnected the subscriber')
        self.assertTrue(harness.is_closed(slow, timeout=10))
        self.assertEqual(self.disconnections(), before + 1)
        pub.close()


class ResetSubscriber(unittest.TestCase):
    """A subscriber that resets its connection (closes it with messages
    unread) while the server still has messages for it in the kernel's
    send queue: a reset leaves SIOCOUTQ's count frozen, so the writer's
    lingering close must not wait for it.  Redis forgets the client at
    once and a shutdown right after takes no time."""

    def test_reset_with_unsent_messages_does_not_linger(self):
        srv = harness.Server()
        self.addCleanup(srv.stop, signal.SIGKILL)
        r = srv.client()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small window: most of what is published waits, unsent, in the
        # server's send queue (which takes it all: the writer is idle).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(harness.IO_TIMEOUT)
        s.connect((srv.host, srv.port))
        s.sendall(cmd('SUBSCRIBE', 'rst'))
        self.assertEqual(recv_exact(s, len(confirm('subscribe', 'rst', 1))),
                         confirm('subscribe', 'rst', 1))
        pub = srv.raw()
        for _ in range(8):
            pub.sendall(cmd('PUBLISH', 'rst', b'm' * 2000))
            self.assertEqual(recv_exact(pub, 4), b':1\r\n')
        pub.close()
        time.sleep(0.2)  # the writer has handed everything to the kernel
        s.close()  # with bytes unread: a reset
        # The client is gone well before the 2 s linger would end.
        t0 = time.monotonic()
        self.assertTrue(wait_until(
            lambda: int(r.info('clients')['connected_clients']) == 1,
            timeout=5))
        self.assertLess(time.monotonic() - t0, 1.0)
        r.close()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 0)
        self.assertLess(time.monotonic() - t0, 1.0)


if __name__ == '__main__':
    harness.main()
