"""test_keys.py - the keyspace commands (cmd_keys.c) against Redis 7.0's
behaviour: DEL UNLINK EXISTS TOUCH TYPE KEYS SCAN RENAME RENAMENX RANDOMKEY
COPY MOVE.

  - explicit expectations (checked against redis-server 7.0.15): replies,
    errors, duplicates, TTLs carried by RENAME/COPY/MOVE, databases;
  - KEYS glob patterns; SCAN full iterations (every key at least once)
    with MATCH/COUNT/TYPE, cursor parsing, garbage cursors, keys added and
    removed during a scan;
  - expired keys are never returned by KEYS, SCAN, RANDOMKEY, EXISTS;
  - RESP3 replies on a raw connection; binary keys;
  - atomicity of multi-key commands (DEL/EXISTS, RENAME) under threads;
  - a differential test: the same scripts on the real Redis 7.0, byte for
    byte, in RESP2 and RESP3.
"""

import threading
import time

import redis

import harness
from rds_testlib import Conn, DiffMixin, Error


def tearDownModule():
    DiffMixin.stop_reference()


def scan_all(r, **kw):
    """Every key a full SCAN returns (a list, duplicates kept), and the
    number of calls it took."""
    out, cursor, calls = [], 0, 0
    while True:
        cursor, keys = r.scan(cursor, **kw)
        calls += 1
        out += keys
        if cursor == 0:
            return out, calls
        if calls > 1000000:
            raise AssertionError('SCAN does not end')


class KeysTest(DiffMixin, harness.ServerTest):

    def err(self, fn, *args, **kw):
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kw)
        return str(cm.exception)

    def xc(self, *args):
        return self.r.execute_command(*args)

    # ---- DEL UNLINK EXISTS TOUCH TYPE ------------------------------------------

    def test_del_unlink(self):
        r = self.r
        r.mset({'a': 1, 'b': 2, 'c': 3, 'd': 4})
        self.assertEqual(r.delete('a', 'a', 'nokey'), 1)
        self.assertEqual(r.delete('b', 'c'), 2)
        self.assertEqual(r.unlink('d', 'd', 'x'), 1)
        self.assertEqual(r.delete('a'), 0)
        self.assertEqual(r.dbsize(), 0)
        many = {'k%d' % i: i for i in range(300)}
        r.mset(many)
        self.assertEqual(r.delete(*many, 'k0', 'none'), 300)
        self.assertEqual(r.dbsize(), 0)

    def test_exists_touch_type(self):
        r = self.r
        r.set('a', 1)
        self.assertEqual(r.exists('a'), 1)
        self.assertEqual(r.exists('a', 'a', 'nokey', 'a'), 3)  # duplicates count
        self.assertEqual(r.exists('nokey'), 0)
        self.assertEqual(r.touch('a', 'a', 'nokey'), 2)
        self.assertEqual(r.type('a'), b'string')
        self.assertEqual(r.type('nokey'), b'none')
        r.set('e', 'v', px=1)
        time.sleep(0.01)
        self.assertEqual(r.type('e'), b'none')
        self.assertEqual(r.exists('e'), 0)
        self.assertEqual(r.touch('e'), 0)
        self.assertEqual(r.delete('e'), 0)  # an expired key is not deleted

    def test_arity(self):
        c = self.ours()
        try:
            for args in [('DEL',), ('UNLINK',), ('EXISTS',), ('TOUCH',), ('TYPE',),
                         ('TYPE', 'a', 'b'), ('KEYS',), ('KEYS', 'a', 'b'), ('SCAN',),
                         ('RENAME', 'a'), ('RENAMENX', 'a', 'b', 'c'),
                         ('RANDOMKEY', 'x'), ('COPY', 'a'), ('MOVE', 'a')]:
                reply = c.cmd(*args)
                self.assertEqual(reply, Error(b"ERR wrong number of arguments for '%s' "
                                              b"command" % args[0].lower().encode()), args)
        finally:
            c.close()

    # ---- KEYS -------------------------------------------------------------------

    def test_keys_patterns(self):
        r = self.r
        names = ['hello', 'hallo', 'hxllo', 'hllo', 'heeeello', 'h*llo', 'h?llo',
                 'foo', 'foo:bar', 'Hello', 'h[llo']
        r.mset({n: 1 for n in names})

        def keys(p):
            return sorted(k.decode() for k in r.keys(p))

        self.assertEqual(keys('*'), sorted(names))
        self.assertEqual(keys('h?llo'), ['h*llo', 'h?llo', 'h[llo', 'hallo', 'hello', 'hxllo'])
        self.assertEqual(keys('h*llo'), sorted(['hello', 'hallo', 'hxllo', 'hllo',
                                                'heeeello', 'h*llo', 'h?llo', 'h[llo']))
        self.assertEqual(keys('h[ae]llo'), ['hallo', 'hello'])
        self.assertEqual(keys('h[^e]llo'), ['h*llo', 'h?llo', 'h[llo', 'hallo', 'hxllo'])
        self.assertEqual(keys('h[a-b]llo'), ['hallo'])
        self.assertEqual(keys('h\\*llo'), ['h*llo'])
        self.assertEqual(keys('h\\?llo'), ['h?llo'])
        self.assertEqual(keys('foo*'), ['foo', 'foo:bar'])
        self.assertEqual(keys('foo'), ['foo'])
        self.assertEqual(keys('FOO'), [])  # case-sensitive
        self.assertEqual(keys('nothing*'), [])
        self.assertEqual(keys(''), [])
        self.assertEqual(keys('*' * 50 + 'x'), [])  # no exponential blow-up

    def test_keys_binary_and_expired(self):
        r = self.r
        bins = [b'a\x00b', b'a\r\nb', b'\xff', b'']
        for k in bins:
            r.set(k, 1)
        r.set('gone', 1, px=1)
        r.set('gone2', 1, px=1)
        time.sleep(0.01)
        self.assertEqual(sorted(r.keys('*')), sorted(bins))
        self.assertEqual(sorted(r.keys('a?b')), [b'a\x00b'])
        self.assertEqual(r.keys('a\r*'), [b'a\r\nb'])
        self.assertEqual(r.keys('gone*'), [])

    def test_keys_many(self):
        r = self.r
        p = r.pipeline(transaction=False)
        for i in range(5000):
            p.set('many:%d' % i, i)
        p.execute()
        got = r.keys('many:*')
        self.assertEqual(len(got), 5000)
        self.assertEqual(set(got), {b'many:%d' % i for i in range(5000)})
        self.assertEqual(sorted(r.keys('many:1?9')), [b'many:1%d9' % i for i in range(10)])

    # ---- SCAN -------------------------------------------------------------------

    def test_scan_full_iteration(self):
        r = self.r
        p = r.pipeline(transaction=False)
        names = {b'scan:%d' % i for i in range(1000)}
        for n in names:
            p.set(n, 1)
        p.execute()
        for count in (1, 10, 100, 5000):
            got, calls = scan_all(r, count=count)
            self.assertEqual(set(got), names, count)  # every key at least once
            self.assertTrue(len(got) <= 2 * len(names))
            if count == 1:
                self.assertGreater(calls, 10)  # COUNT 1 does not take all at once
        got, _ = scan_all(r)  # default COUNT 10
        self.assertEqual(set(got), names)
        got, _ = scan_all(r, match='scan:1*')
        self.assertEqual(set(got), {n for n in names if n.startswith(b'scan:1')})
        got, _ = scan_all(r, match='scan:1*', count=7)
        self.assertEqual(set(got), {n for n in names if n.startswith(b'scan:1')})
        got, _ = scan_all(r, _type='string')
        self.assertEqual(set(got), names)
        got, _ = scan_all(r, _type='STRING', match='*')
        self.assertEqual(set(got), names)
        for t in ('list', 'none', 'foo', 'hash'):
            got, _ = scan_all(r, _type=t)
            self.assertEqual(got, [], t)

    def test_scan_empty_and_expired(self):
        r = self.r
        self.assertEqual(r.scan(0), (0, []))
        for i in range(200):
            r.set('gone:%d' % i, 1, px=1)
        r.set('live', 1)
        time.sleep(0.01)
        got, _ = scan_all(r, count=3)
        self.assertEqual(set(got), {b'live'})

    def test_scan_cursor_parsing(self):
        r = self.r
        r.set('k', 1)
        # Redis parses the cursor with strtoul: these are all cursor 0.
        for cur in ('0', '+0', '', '00'):
            got, cursor = [], cur
            while True:  # (redis-py parses SCAN's reply: (cursor, keys))
                cursor, keys = self.xc('SCAN', cursor)
                got += keys
                if cursor == 0:
                    break
            self.assertEqual(got, [b'k'], repr(cur))
        for cur in (' 0', '0 ', 'x', '0x10', '1.0', '18446744073709551616', '-', '+',
                    '99999999999999999999999'):
            self.assertEqual(self.err(self.xc, 'SCAN', cur), 'invalid cursor', repr(cur))
        # Any in-range number is a valid cursor: no crash, a well-formed reply.
        for cur in ('18446744073709551615', '-1', '9223372036854775808', '12345678',
                    '4294967296', '1'):
            reply = self.xc('SCAN', cur)
            self.assertEqual(len(reply), 2, cur)
            int(reply[0])
            self.assertTrue(set(reply[1]) <= {b'k'})

    def test_scan_option_errors(self):
        r = self.r
        r.set('k', 1)
        syntax = 'syntax error'
        for opts in (['COUNT', 0], ['COUNT', -1], ['MATCH'], ['COUNT'], ['TYPE'],
                     ['FOO', 'bar'], ['MATCH', '*', 'COUNT'], ['COUNT', 10, 'X']):
            self.assertEqual(self.err(self.xc, 'SCAN', 0, *opts), syntax, opts)
        self.assertEqual(self.err(self.xc, 'SCAN', 0, 'COUNT', 'abc'),
                         'value is not an integer or out of range')
        self.assertEqual(self.err(self.xc, 'SCAN', 'x', 'COUNT', 0), 'invalid cursor')
        # Options repeat; the last wins.
        self.assertEqual(self.xc('SCAN', 0, 'MATCH', 'x*', 'MATCH', 'k', 'count', 1000),
                         (0, [b'k']))

    def test_scan_during_changes(self):
        """Keys present for the whole scan are returned at least once, while
        other keys come and go (and make the tables grow and shrink)."""
        r = self.r
        stable = {b'stable:%d' % i for i in range(500)}
        r.mset({k: 1 for k in stable})
        stop = threading.Event()
        errors = []

        def churn():
            c = self.client()
            i = 0
            try:
                while not stop.is_set():
                    p = c.pipeline(transaction=False)
                    for j in range(200):
                        p.set('churn:%d' % (i + j), 1)
                    p.execute()
                    if i >= 2000:
                        c.delete(*['churn:%d' % j for j in range(i - 2000, i - 1800)])
                    i += 200
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        t = threading.Thread(target=churn)
        t.start()
        try:
            for _ in range(5):
                got, _ = scan_all(r, count=20)
                missing = stable - set(got)
                self.assertEqual(missing, set())
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(errors, [])

    def test_scan_other_db(self):
        r = self.r
        r.set('db0key', 1)
        r1 = self.client(db=1)
        try:
            r1.set('db1key', 1)
            self.assertEqual(scan_all(r1)[0], [b'db1key'])
            self.assertEqual(r1.keys('*'), [b'db1key'])
            self.assertEqual(scan_all(r)[0], [b'db0key'])
        finally:
            r1.close()

    # ---- RANDOMKEY ------------------------------------------------------------------

    def test_randomkey(self):
        r = self.r
        self.assertIsNone(r.randomkey())
        r.set('only', 1)
        self.assertEqual(r.randomkey(), b'only')
        names = {b'rk:%d' % i for i in range(50)} | {b'only'}
        r.mset({k: 1 for k in names})
        seen = {r.randomkey() for _ in range(300)}
        self.assertTrue(seen <= names)
        self.assertGreater(len(seen), 5)
        r.flushall()
        for i in range(100):
            r.set('gone:%d' % i, 1, px=1)
        time.sleep(0.01)
        self.assertIsNone(r.randomkey())  # only expired keys: none
        r.set('live', 1)
        for _ in range(20):
            self.assertEqual(r.randomkey(), b'live')

    # ---- RENAME RENAMENX ---------------------------------------------------------------

    def test_rename(self):
        r = self.r
        self.assertEqual(self.err(r.rename, 'nokey', 'x'), 'no such key')
        self.assertEqual(self.err(r.rename, 'nokey', 'nokey'), 'no such key')
        r.set('a', 'va')
        self.assertTrue(r.rename('a', 'a'))
        self.assertEqual(r.get('a'), b'va')
        self.assertTrue(r.rename('a', 'b'))
        self.assertEqual((r.exists('a'), r.get('b')), (0, b'va'))
        r.setex('c', 100, 'vc')
        self.assertTrue(r.rename('c', 'b'))  # replaces b, keeps c's TTL
        self.assertEqual((r.get('b'), r.ttl('b')), (b'vc', 100))
        r.set('d', 'vd')
        self.assertTrue(r.rename('d', 'b'))  # and a key without TTL has none
        self.assertEqual((r.get('b'), r.ttl('b')), (b'vd', -1))
        r.set('e', 'v', px=1)
        time.sleep(0.01)
        self.assertEqual(self.err(r.rename, 'e', 'f'), 'no such key')
        # Binary names, and many renames in different shards.
        r.set(b'x\x00y', b'\r\n')
        self.assertTrue(r.rename(b'x\x00y', b'\x00'))
        self.assertEqual(r.get(b'\x00'), b'\r\n')
        for i in range(200):
            r.rename(b'\x00' if i == 0 else 'r%d' % (i - 1), 'r%d' % i)
        self.assertEqual(r.keys('r*'), [b'r199'])

    def test_renamenx(self):
        r = self.r
        self.assertEqual(self.err(r.renamenx, 'nokey', 'x'), 'no such key')
        r.set('a', 1)
        r.set('b', 2)
        self.assertFalse(r.renamenx('a', 'b'))
        self.assertFalse(r.renamenx('a', 'a'))
        self.assertEqual(r.mget('a', 'b'), [b'1', b'2'])
        r.pexpire('a', 100000)
        self.assertTrue(r.renamenx('a', 'c'))
        self.assertEqual(r.exists('a'), 0)
        self.assertTrue(99000 < r.pttl('c') <= 100000)
        r.set('gone', 1, px=1)
        time.sleep(0.01)
        self.assertTrue(r.renamenx('c', 'gone'))  # an expired target is missing
        self.assertEqual(r.get('gone'), b'1')

    def test_rename_is_atomic(self):
        """A key renamed back and forth between two names is always under
        exactly one of them for a reader of both."""
        r = self.r
        r.set('ping', 'x')
        stop = threading.Event()
        errors = []

        def mover():
            c = self.client()
            try:
                while not stop.is_set():
                    c.rename('ping', 'pong')
                    c.rename('pong', 'ping')
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        def reader():
            c = self.client()
            try:
                while not stop.is_set():
                    n = c.exists('ping', 'pong')
                    if n != 1:
                        errors.append('EXISTS ping pong = %d' % n)
                        return
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        ts = [threading.Thread(target=mover), threading.Thread(target=reader)]
        for t in ts:
            t.start()
        time.sleep(1.0)
        stop.set()
        for t in ts:
            t.join(30)
        self.assertEqual(errors, [])

    def test_del_is_atomic(self):
        """MSET of ten keys then DEL of all ten, over and over: a reader's
        EXISTS sees all ten or none."""
        keys = ['d%d:%s' % (i, 'y' * i) for i in range(10)]
        stop = threading.Event()
        errors = []
        seen = set()

        def writer():
            c = self.client()
            try:
                while not stop.is_set():
                    c.mset({k: 1 for k in keys})
                    c.delete(*keys)
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        def reader():
            c = self.client()
            try:
                while not stop.is_set():
                    n = c.exists(*keys)
                    seen.add(n)
                    if n not in (0, 10):
                        errors.append('EXISTS saw %d of 10 keys' % n)
                        return
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        ts = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in ts:
            t.start()
        time.sleep(1.0)
        stop.set()
        for t in ts:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(seen, {0, 10})

    # ---- COPY MOVE ---------------------------------------------------------------------

    def test_copy(self):
        r = self.r
        self.assertEqual(self.xc('COPY', 'nokey', 'x'), 0)
        r.setex('a', 100, 'va')
        self.assertEqual(self.xc('COPY', 'a', 'b'), 1)
        self.assertEqual((r.get('b'), r.ttl('b')), (b'va', 100))
        self.assertEqual(r.get('a'), b'va')
        r.set('c', 'vc')
        self.assertEqual(self.xc('COPY', 'c', 'b'), 0)
        self.assertEqual(r.get('b'), b'va')
        self.assertEqual(self.xc('COPY', 'c', 'b', 'REPLACE'), 1)
        self.assertEqual((r.get('b'), r.ttl('b')), (b'vc', -1))
        # Copies are independent.
        r.append('b', 'more')
        self.assertEqual(r.get('c'), b'vc')
        # Another database, same name allowed there.
        self.assertEqual(self.xc('COPY', 'a', 'a', 'DB', 1), 1)
        self.assertEqual(self.xc('COPY', 'a', 'a', 'DB', 1), 0)
        self.assertEqual(self.xc('COPY', 'c', 'a', 'db', '1', 'replace'), 1)
        r1 = self.client(db=1)
        try:
            self.assertEqual(r1.get('a'), b'vc')
            self.assertEqual(r1.dbsize(), 1)
        finally:
            r1.close()
        self.assertEqual(self.xc('COPY', 'a', 'x', 'DB', 0), 1)
        self.assertEqual(r.get('x'), b'va')
        # Errors.
        same = 'source and destination objects are the same'
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'a'), same)
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'a', 'DB', 0), same)
        self.assertEqual(self.err(self.xc, 'COPY', 'nokey', 'nokey'), same)
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'b', 'DB', 16),
                         'DB index is out of range')
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'b', 'DB', -1),
                         'DB index is out of range')
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'b', 'DB', 'x'),
                         'value is not an integer or out of range')
        self.assertEqual(self.err(self.xc, 'COPY', 'a', 'b', 'DB', 99999999999),
                         'value is out of range, value must between -2147483648 and '
                         '2147483647')
        for opts in (['DB'], ['FOO'], ['REPLACE', 'X'], ['DB', 1, 2]):
            self.assertEqual(self.err(self.xc, 'COPY', 'a', 'b', *opts), 'syntax error')
        # A binary key and a big value.
        big = bytes(range(256)) * 4096
        r.set(b'\x00\r\n', big)
        self.assertEqual(self.xc('COPY', b'\x00\r\n', b'\x00\r\n2'), 1)
        self.assertEqual(r.get(b'\x00\r\n2'), big)

    def test_move(self):
        r = self.r
        r1 = self.client(db=1)
        try:
            self.assertEqual(r.move('nokey', 1), 0)
            r.setex('a', 100, 'va')
            self.assertEqual(r.move('a', 1), 1)
            self.assertEqual(r.exists('a'), 0)
            self.assertEqual((r1.get('a'), r1.ttl('a')), (b'va', 100))
            r.set('a', 'other')
            self.assertEqual(r.move('a', 1), 0)  # exists in the target
            self.assertEqual((r.get('a'), r1.get('a')), (b'other', b'va'))
            self.assertEqual(r1.move('a', 0), 0)
            r.delete('a')
            self.assertEqual(r1.move('a', 15), 1)
            self.assertEqual(r1.exists('a'), 0)
            same = 'source and destination objects are the same'
            self.assertEqual(self.err(r.move, 'a', 0), same)
            self.assertEqual(self.err(r1.move, 'a', 1), same)
            self.assertEqual(self.err(r.move, 'a', 16), 'DB index is out of range')
            self.assertEqual(self.err(r.move, 'a', -1), 'DB index is out of range')
            self.assertEqual(self.err(r.move, 'a', 'x'),
                             'value is not an integer or out of range')
            self.assertEqual(self.err(r.move, 'a', 99999999999),
                             'value is out of range, value must between -2147483648 '
                             'and 2147483647')
        finally:
            r1.close()

    # ---- RESP3 -------------------------------------------------------------------------

    def test_resp3_replies(self):
        c = self.ours()
        try:
            c.hello3()
            self.assertEqual(c.call('RANDOMKEY'), b'_\r\n')
            self.assertEqual(c.call('KEYS', '*'), b'*0\r\n')
            self.assertEqual(c.call('SET', 'k', 'v'), b'+OK\r\n')
            self.assertEqual(c.call('TYPE', 'k'), b'+string\r\n')
            self.assertEqual(c.call('TYPE', 'nokey'), b'+none\r\n')
            self.assertEqual(c.call('KEYS', '*'), b'*1\r\n$1\r\nk\r\n')
            # SCAN: an array of a bulk cursor and an array of bulk keys.
            got, cursor = [], b'0'
            while True:
                raw = c.call('SCAN', cursor, 'COUNT', '100')
                cursor, keys = Conn.decode(raw)
                self.assertEqual(raw, b'*2\r\n$%d\r\n%s\r\n*%d\r\n%s' % (
                    len(cursor), cursor, len(keys),
                    b''.join(b'$%d\r\n%s\r\n' % (len(k), k) for k in keys)))
                got += keys
                if cursor == b'0':
                    break
            self.assertEqual(got, [b'k'])
            self.assertEqual(c.call('RANDOMKEY'), b'$1\r\nk\r\n')
            self.assertEqual(c.call('EXISTS', 'k', 'k'), b':2\r\n')
            self.assertEqual(c.call('RENAME', 'k', 'j'), b'+OK\r\n')
            self.assertEqual(c.call('RENAMENX', 'j', 'j'), b':0\r\n')
            self.assertEqual(c.call('COPY', 'j', 'k'), b':1\r\n')
            self.assertEqual(c.call('MOVE', 'j', '2'), b':1\r\n')
            self.assertEqual(c.call('DEL', 'k', 'j'), b':1\r\n')
            self.assertEqual(c.call('RENAME', 'k', 'j'), b'-ERR no such key\r\n')
        finally:
            c.close()

    # ---- Differential -----------------------------------------------------------------

    def test_same_as_redis(self):
        self.assert_same_replies([
            ('MSET', 'a', '1', 'b', '2', 'c', '3'), ('DEL', 'a', 'a', 'nokey'),
            ('UNLINK', 'b', 'b'), ('EXISTS', 'c', 'c', 'x'), ('TOUCH', 'c', 'c', 'x'),
            ('TYPE', 'c'), ('TYPE', 'x'), ('KEYS', 'c'), ('KEYS', 'x*'), ('KEYS', 'c*'),
            # (SCAN's cursors are ours, not Redis's: only its errors compare.)
            ('SCAN', ' 0'),
            ('SCAN', '0x'), ('SCAN', '18446744073709551616'), ('SCAN', '0', 'COUNT', '0'),
            ('SCAN', '0', 'COUNT', 'abc'), ('SCAN', '0', 'MATCH'), ('SCAN', '0', 'foo', 'bar'),
            ('SCAN', 'x', 'COUNT', '0'), ('RANDOMKEY',),
            ('RENAME', 'nokey', 'x'), ('RENAME', 'nokey', 'nokey'), ('RENAME', 'c', 'c'),
            ('RENAMENX', 'c', 'c'), ('RENAMENX', 'nokey', 'c'), ('SET', 'd', '4'),
            ('RENAMENX', 'c', 'd'), ('RENAME', 'c', 'd'), ('GET', 'd'), ('EXISTS', 'c'),
            ('SETEX', 'e', '100', 'v'), ('RENAME', 'e', 'f'), ('TTL', 'f'),
            ('COPY', 'nokey', 'x'), ('COPY', 'f', 'f'), ('COPY', 'f', 'g'), ('TTL', 'g'),
            ('COPY', 'f', 'g'), ('COPY', 'd', 'g', 'REPLACE'), ('GET', 'g'), ('TTL', 'g'),
            ('COPY', 'f', 'f', 'DB', '1'), ('COPY', 'f', 'f', 'DB', '0'),
            ('COPY', 'f', 'x', 'DB', '16'), ('COPY', 'f', 'x', 'DB', '-1'),
            ('COPY', 'f', 'x', 'DB', 'abc'), ('COPY', 'f', 'x', 'DB', '99999999999'),
            ('COPY', 'f', 'x', 'DB'), ('COPY', 'f', 'x', 'FOO'), ('COPY', 'f', 'x', 'REPLACE', 'x'),
            ('COPY', 'f', 'x', 'DB', '1', 'DB', '2', 'REPLACE'),
            ('MOVE', 'nokey', '1'), ('MOVE', 'f', '0'), ('MOVE', 'f', '16'), ('MOVE', 'f', '-1'),
            ('MOVE', 'f', 'abc'), ('MOVE', 'f', '99999999999'), ('MOVE', 'f', '1'),
            ('MOVE', 'd', '3'), ('EXISTS', 'd'), ('SELECT', '3'), ('GET', 'd'), ('TTL', 'd'),
            ('MOVE', 'd', '0'), ('SELECT', '0'), ('GET', 'd'),
            ('DEL', 'd', 'f', 'g', 'x'), ('RANDOMKEY',), ('KEYS', '*'),
            ('DEL',), ('EXISTS',), ('TYPE',), ('KEYS',), ('SCAN',), ('RENAME', 'a'),
            ('COPY', 'a'), ('MOVE', 'a'), ('RANDOMKEY', 'a'),
        ])


if __name__ == '__main__':
    harness.main()
