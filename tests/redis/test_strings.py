"""test_strings.py - the string commands (cmd_string.c) against Redis 7.0's
behaviour: GET SET (every option and option conflict) SETNX SETEX PSETEX
MGET MSET MSETNX GETSET GETDEL GETEX APPEND STRLEN GETRANGE SUBSTR SETRANGE
INCR DECR INCRBY DECRBY INCRBYFLOAT.

  - explicit expectations (checked against redis-server 7.0.15) for the
    replies, errors and edge cases, through redis-py and raw RESP2/RESP3;
  - a differential test that sends the same scripts to the real Redis 7.0
    (rds_testlib.Reference) and requires byte-identical replies in RESP2
    and RESP3;
  - binary safety (NUL, CR LF, 1 MB and 8 MB values), pipelining;
  - keyspace_hits/misses as INFO reports them;
  - concurrency: INCR from several threads gives the exact total, and a
    reader never sees half an MSET.
"""

import os
import threading
import time

import redis

import harness
from rds_testlib import DiffMixin, Error

LLONG_MAX = 2 ** 63 - 1
LLONG_MIN = -2 ** 63


def tearDownModule():
    DiffMixin.stop_reference()


class StringTest(DiffMixin, harness.ServerTest):

    def err(self, fn, *args, **kw):
        """The text of the ResponseError that fn(*args) raises."""
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kw)
        return str(cm.exception)

    def rc(self, *args):
        """A command on a raw connection kept for the test (no redis-py
        reply callbacks: SET ... GET's old value, INCRBYFLOAT's bytes); an
        error reply raises redis.ResponseError as redis-py words it."""
        if getattr(self, '_rc', None) is None:
            self._rc = self.ours()
            self.addCleanup(self._rc.close)
            self.addCleanup(setattr, self, '_rc', None)
        v = self._rc.cmd(*args)
        if isinstance(v, Error):
            text = v.decode()
            raise redis.ResponseError(text[4:] if text.startswith('ERR ') else text)
        return v

    def raw_err(self, *args):
        """Send a command on a raw connection, return the error text."""
        c = self.ours()
        try:
            reply = c.cmd(*args)
        finally:
            c.close()
        self.assertIsInstance(reply, Error, '%r replied %r' % (args, reply))
        return reply.decode()

    # ---- GET / SET ------------------------------------------------------------

    def test_get_set_basic(self):
        r = self.r
        self.assertIsNone(r.get('k'))
        self.assertTrue(r.set('k', 'v'))
        self.assertEqual(r.get('k'), b'v')
        self.assertTrue(r.set('k', 'other'))
        self.assertEqual(r.get('k'), b'other')
        self.assertTrue(r.set('empty', ''))
        self.assertEqual(r.get('empty'), b'')
        self.assertEqual(r.exists('empty'), 1)

    def test_set_nx_xx(self):
        r = self.r
        self.assertIsNone(r.set('k', 'v', xx=True))
        self.assertIsNone(r.get('k'))
        self.assertTrue(r.set('k', 'v', nx=True))
        self.assertIsNone(r.set('k', 'w', nx=True))
        self.assertEqual(r.get('k'), b'v')
        self.assertTrue(r.set('k', 'w', xx=True))
        self.assertEqual(r.get('k'), b'w')
        # Repeating an option is allowed; NX with XX is not.
        self.assertIsNone(r.execute_command('SET', 'k', 'x', 'NX', 'nx'))
        self.assertEqual(self.err(r.execute_command, 'SET', 'k', 'x', 'NX', 'XX'),
                         'syntax error')

    def test_set_get_option(self):
        r = self.r
        self.assertIsNone(self.rc('SET', 'k', 'v1', 'GET'))
        self.assertEqual(self.rc('SET', 'k', 'v2', 'GET'), b'v1')
        self.assertEqual(r.get('k'), b'v2')
        # Redis 7.0 allows GET with NX: the old value, and nothing set.
        self.assertEqual(self.rc('SET', 'k', 'v3', 'NX', 'GET'), b'v2')
        self.assertEqual(r.get('k'), b'v2')
        self.assertIsNone(self.rc('SET', 'n', 'v', 'NX', 'GET'))
        self.assertEqual(r.get('n'), b'v')
        self.assertIsNone(self.rc('SET', 'x', 'v', 'XX', 'GET'))
        self.assertIsNone(r.get('x'))
        self.assertEqual(self.rc('SET', 'k', 'v4', 'GET', 'get'), b'v2')
        self.assertEqual(self.rc('SET', 'k', 'v5', 'GET', 'EX', '100'), b'v4')
        self.assertEqual(r.ttl('k'), 100)
        self.assertEqual(self.rc('SET', 'k', 'v6', 'KEEPTTL', 'GET'), b'v5')
        self.assertEqual((r.get('k'), r.ttl('k')), (b'v6', 100))

    def test_set_expiry_options(self):
        r = self.r
        now = time.time()
        r.set('ex', 'v', ex=100)
        self.assertEqual(r.ttl('ex'), 100)
        r.set('px', 'v', px=100000)
        self.assertTrue(99000 < r.pttl('px') <= 100000)
        r.execute_command('SET', 'exat', 'v', 'EXAT', int(now) + 100)
        self.assertTrue(98 <= r.ttl('exat') <= 100)
        self.assertEqual(r.execute_command('EXPIRETIME', 'exat'), int(now) + 100)
        r.execute_command('SET', 'pxat', 'v', 'PXAT', 4000000000123)
        self.assertEqual(r.execute_command('PEXPIRETIME', 'pxat'), 4000000000123)
        # The last of a repeated option wins.
        r.execute_command('SET', 'k', 'v', 'EX', 10, 'EX', 20)
        self.assertEqual(r.ttl('k'), 20)
        # A plain SET drops the TTL, KEEPTTL keeps it.
        r.execute_command('SET', 'ex', 'w', 'KEEPTTL')
        self.assertEqual(r.ttl('ex'), 100)
        self.assertEqual(r.get('ex'), b'w')
        r.set('ex', 'z')
        self.assertEqual(r.ttl('ex'), -1)
        # KEEPTTL on a missing key: no TTL.
        r.execute_command('SET', 'fresh', 'v', 'KEEPTTL')
        self.assertEqual(r.ttl('fresh'), -1)
        # An absolute time in the past: accepted, and the key is gone.
        self.assertTrue(r.execute_command('SET', 'past', 'v', 'PXAT', 1))
        self.assertIsNone(r.get('past'))
        self.assertEqual(r.exists('past'), 0)

    def test_set_option_conflicts(self):
        r = self.r
        bad = [
            ['NX', 'XX'], ['XX', 'NX'],
            ['EX', 10, 'PX', 10], ['PX', 10, 'EX', 10], ['EX', 10, 'EXAT', 10],
            ['EXAT', 10, 'PXAT', 10], ['PXAT', 10, 'PX', 10],
            ['KEEPTTL', 'EX', 10], ['EX', 10, 'KEEPTTL'], ['PX', 10, 'KEEPTTL'],
            ['KEEPTTL', 'PXAT', 10], ['EX'], ['PX'], ['EXAT'], ['PXAT'],
            ['NX', 'EX'], ['PERSIST'], ['FOO'], ['EX', 10, 'FOO'], ['NXX'],
            ['N'], ['10'],
        ]
        r.set('k', 'orig')
        for opts in bad:
            self.assertEqual(self.err(r.execute_command, 'SET', 'k', 'v', *opts),
                             'syntax error', opts)
        self.assertEqual(r.get('k'), b'orig')
        # Options are case-insensitive.
        self.assertEqual(self.rc('SET', 'k', 'v', 'eX', 10, 'xX', 'gEt'), b'orig')
        self.assertEqual(r.ttl('k'), 10)

    def test_set_invalid_expire(self):
        r = self.r
        r.set('k', 'orig')
        for opt, val in [('EX', 0), ('EX', -1), ('PX', 0), ('PX', -100),
                         ('EXAT', 0), ('PXAT', 0), ('PXAT', -1),
                         ('EX', LLONG_MAX), ('EX', LLONG_MAX // 1000),
                         ('PX', LLONG_MAX), ('EXAT', LLONG_MAX // 1000 + 1)]:
            self.assertEqual(self.err(r.execute_command, 'SET', 'k', 'v', opt, val),
                             "invalid expire time in 'set' command", (opt, val))
        for val in ['abc', '1.5', '', ' 1', '1 ', '99999999999999999999']:
            self.assertEqual(self.err(r.execute_command, 'SET', 'k', 'v', 'EX', val),
                             'value is not an integer or out of range', val)
        self.assertEqual(r.get('k'), b'orig')
        self.assertEqual(r.ttl('k'), -1)
        # The largest PXAT is fine.
        self.assertTrue(r.execute_command('SET', 'k', 'v', 'PXAT', LLONG_MAX))
        self.assertEqual(r.execute_command('PEXPIRETIME', 'k'), LLONG_MAX)

    def test_setnx_setex_psetex(self):
        r = self.r
        self.assertEqual(r.execute_command('SETNX', 'a', '1'), 1)
        self.assertEqual(r.execute_command('SETNX', 'a', '2'), 0)
        self.assertEqual(r.get('a'), b'1')
        self.assertTrue(r.execute_command('SETEX', 'b', 100, 'v'))
        self.assertEqual(r.ttl('b'), 100)
        self.assertEqual(r.get('b'), b'v')
        self.assertTrue(r.execute_command('PSETEX', 'c', 100000, 'v'))
        self.assertTrue(99000 < r.pttl('c') <= 100000)
        for cmd, val in [('SETEX', 0), ('SETEX', -5), ('PSETEX', 0),
                         ('SETEX', LLONG_MAX), ('PSETEX', LLONG_MAX)]:
            self.assertEqual(self.err(r.execute_command, cmd, 'k', val, 'v'),
                             "invalid expire time in '%s' command" % cmd.lower())
        self.assertEqual(self.err(r.execute_command, 'SETEX', 'k', 'x', 'v'),
                         'value is not an integer or out of range')
        self.assertEqual(r.exists('k'), 0)

    def test_arity_errors(self):
        for args in [('GET',), ('GET', 'a', 'b'), ('SET', 'k'), ('SETNX', 'k'),
                     ('SETEX', 'k', '1'), ('MGET',), ('MSET', 'k'),
                     ('GETSET', 'k'), ('GETDEL',), ('GETEX',), ('APPEND', 'k'),
                     ('STRLEN',), ('GETRANGE', 'k', '0'), ('SETRANGE', 'k', '0'),
                     ('INCR',), ('INCRBY', 'k'), ('DECRBY', 'k', '1', '2'),
                     ('INCRBYFLOAT', 'k')]:
            self.assertEqual(self.raw_err(*args),
                             "ERR wrong number of arguments for '%s' command"
                             % args[0].lower(), args)
        # MSET's pairs are checked by the command itself, same words.
        self.assertEqual(self.raw_err('MSET', 'a', '1', 'b'),
                         "ERR wrong number of arguments for 'mset' command")
        self.assertEqual(self.raw_err('MSETNX', 'a', '1', 'b'),
                         "ERR wrong number of arguments for 'msetnx' command")

    # ---- MGET / MSET / MSETNX ---------------------------------------------------

    def test_mget_mset(self):
        r = self.r
        self.assertTrue(r.mset({'a': '1', 'b': '2', 'c': '3'}))
        self.assertEqual(r.mget('a', 'b', 'nokey', 'c', 'a'),
                         [b'1', b'2', None, b'3', b'1'])
        # Duplicate keys: the last wins.
        r.execute_command('MSET', 'd', 'x', 'd', 'y')
        self.assertEqual(r.get('d'), b'y')
        # MSET drops TTLs.
        r.setex('a', 100, 'v')
        r.mset({'a': 'w'})
        self.assertEqual(r.ttl('a'), -1)
        # Many keys (more than the keyset keeps inline).
        big = {'key:%d' % i: 'val:%d' % i for i in range(500)}
        self.assertTrue(r.mset(big))
        self.assertEqual(r.mget(list(big)), [v.encode() for v in big.values()])

    def test_msetnx(self):
        r = self.r
        self.assertEqual(r.execute_command('MSETNX', 'a', '1', 'b', '2'), 1)
        self.assertEqual(r.execute_command('MSETNX', 'b', 'x', 'c', 'y'), 0)
        self.assertIsNone(r.get('c'))
        self.assertEqual(r.get('b'), b'2')
        # Duplicates within one MSETNX: both checked missing, the last wins.
        self.assertEqual(r.execute_command('MSETNX', 'q', '1', 'q', '2'), 1)
        self.assertEqual(r.get('q'), b'2')
        # An expired key counts as missing.
        r.set('e', 'v', px=1)
        time.sleep(0.01)
        self.assertEqual(r.execute_command('MSETNX', 'e', 'new', 'f', 'new'), 1)
        self.assertEqual(r.mget('e', 'f'), [b'new', b'new'])

    # ---- GETSET / GETDEL / GETEX ------------------------------------------------

    def test_getset_getdel(self):
        r = self.r
        self.assertIsNone(r.getset('k', '1'))
        self.assertEqual(r.getset('k', '2'), b'1')
        r.setex('k', 100, '3')
        self.assertEqual(r.getset('k', '4'), b'3')
        self.assertEqual(r.ttl('k'), -1)  # GETSET drops the TTL
        self.assertEqual(r.execute_command('GETDEL', 'k'), b'4')
        self.assertIsNone(r.execute_command('GETDEL', 'k'))
        self.assertEqual(r.exists('k'), 0)

    def test_getex(self):
        r = self.r
        self.assertIsNone(r.execute_command('GETEX', 'nokey'))
        # A missing key answers null even with a bad time (it is looked up
        # first); options are checked before anything.
        self.assertIsNone(r.execute_command('GETEX', 'nokey', 'EX', 0))
        self.assertEqual(self.err(r.execute_command, 'GETEX', 'nokey', 'NX'),
                         'syntax error')
        r.set('k', 'v')
        self.assertEqual(r.execute_command('GETEX', 'k'), b'v')
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(r.execute_command('GETEX', 'k', 'EX', 100), b'v')
        self.assertEqual(r.ttl('k'), 100)
        self.assertEqual(r.execute_command('GETEX', 'k', 'PX', 50000), b'v')
        self.assertTrue(49000 < r.pttl('k') <= 50000)
        self.assertEqual(r.execute_command('GETEX', 'k', 'EXAT', 4000000000), b'v')
        self.assertEqual(r.execute_command('EXPIRETIME', 'k'), 4000000000)
        self.assertEqual(r.execute_command('GETEX', 'k', 'PXAT', 4000000000999), b'v')
        self.assertEqual(r.execute_command('PEXPIRETIME', 'k'), 4000000000999)
        self.assertEqual(r.execute_command('GETEX', 'k', 'PERSIST'), b'v')
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(r.execute_command('GETEX', 'k', 'persist', 'PERSIST'), b'v')
        for opts in [['PERSIST', 'EX', 10], ['EX', 10, 'PERSIST'], ['NX'], ['XX'],
                     ['GET'], ['KEEPTTL'], ['EX'], ['EX', 1, 'PX', 1], ['FOO']]:
            self.assertEqual(self.err(r.execute_command, 'GETEX', 'k', *opts),
                             'syntax error', opts)
        for opt, val in [('EX', 0), ('PX', -1), ('EXAT', 0), ('PXAT', -1),
                         ('EX', LLONG_MAX // 1000)]:
            self.assertEqual(self.err(r.execute_command, 'GETEX', 'k', opt, val),
                             "invalid expire time in 'getex' command")
        self.assertEqual(self.err(r.execute_command, 'GETEX', 'k', 'EX', 'x'),
                         'value is not an integer or out of range')
        self.assertEqual(r.ttl('k'), -1)
        # A past absolute time replies the value and deletes the key.
        self.assertEqual(r.execute_command('GETEX', 'k', 'EXAT', 1), b'v')
        self.assertEqual(r.exists('k'), 0)
        r.set('k', 'v')
        self.assertEqual(r.execute_command('GETEX', 'k', 'PXAT', 1), b'v')
        self.assertEqual(r.exists('k'), 0)

    # ---- APPEND / STRLEN / GETRANGE / SETRANGE ----------------------------------

    def test_append_strlen(self):
        r = self.r
        self.assertEqual(r.strlen('k'), 0)
        self.assertEqual(r.append('k', 'hello'), 5)
        self.assertEqual(r.append('k', ' world'), 11)
        self.assertEqual(r.append('k', ''), 11)
        self.assertEqual(r.get('k'), b'hello world')
        self.assertEqual(r.strlen('k'), 11)
        self.assertEqual(r.append('e', ''), 0)
        self.assertEqual(r.exists('e'), 1)  # APPEND creates even when empty
        r.setex('t', 100, 'a')
        self.assertEqual(r.append('t', 'b'), 2)
        self.assertEqual(r.ttl('t'), 100)  # APPEND keeps the TTL
        # Many small appends (the entry grows with spare room).
        parts = [os.urandom(i % 37) for i in range(2000)]
        total = 0
        for p in parts:
            total += len(p)
            self.assertEqual(r.append('grow', p), total)
        self.assertEqual(r.get('grow'), b''.join(parts))

    def test_getrange(self):
        r = self.r
        r.set('s', 'This is a string')
        cases = [((0, 3), b'This'), ((-3, -1), b'ing'), ((0, -1), b'This is a string'),
                 ((10, 100), b'string'), ((-1, -5), b''), ((5, 3), b''),
                 ((-100, -50), b'T'), ((LLONG_MIN, -1), b'This is a string'),
                 ((0, LLONG_MAX), b'This is a string'), ((16, 20), b''),
                 ((15, 15), b'g'), ((-16, -16), b'T'), ((-17, 0), b'T')]
        for (a, b), want in cases:
            self.assertEqual(r.getrange('s', a, b), want, (a, b))
            self.assertEqual(r.execute_command('SUBSTR', 's', a, b), want, (a, b))
        self.assertEqual(r.getrange('nokey', 0, -1), b'')
        r.set('e', '')
        self.assertEqual(r.getrange('e', 0, -1), b'')
        self.assertEqual(self.err(r.getrange, 's', 'a', 1),
                         'value is not an integer or out of range')
        self.assertEqual(self.err(r.getrange, 's', 0, '99999999999999999999'),
                         'value is not an integer or out of range')

    def test_setrange(self):
        r = self.r
        self.assertEqual(r.setrange('k', 0, 'hello'), 5)
        self.assertEqual(r.setrange('k', 6, 'world'), 11)
        self.assertEqual(r.get('k'), b'hello\x00world')
        self.assertEqual(r.setrange('k', 1, 'E'), 11)
        self.assertEqual(r.get('k'), b'hEllo\x00world')
        self.assertEqual(r.setrange('pad', 5, 'x'), 6)
        self.assertEqual(r.get('pad'), b'\x00' * 5 + b'x')
        # An empty value creates nothing / changes nothing.
        self.assertEqual(r.setrange('none', 10, ''), 0)
        self.assertEqual(r.exists('none'), 0)
        self.assertEqual(r.setrange('k', 100, ''), 11)
        self.assertEqual(r.setrange('k', 536870912, ''), 11)
        self.assertEqual(self.err(r.setrange, 'k', -1, 'x'), 'offset is out of range')
        self.assertEqual(self.err(r.setrange, 'k', 'a', 'x'),
                         'value is not an integer or out of range')
        too_big = 'string exceeds maximum allowed size (proto-max-bulk-len)'
        self.assertEqual(self.err(r.setrange, 'k', 536870912, 'x'), too_big)
        self.assertEqual(self.err(r.setrange, 'n', 536870912, 'x'), too_big)
        self.assertEqual(self.err(r.setrange, 'n', LLONG_MAX, 'x'), too_big)
        self.assertEqual(r.exists('n'), 0)
        self.assertEqual(r.get('k'), b'hEllo\x00world')
        r.setex('t', 100, 'abc')
        self.assertEqual(r.setrange('t', 1, 'ZZZZ'), 5)
        self.assertEqual(r.get('t'), b'aZZZZ')
        self.assertEqual(r.ttl('t'), 100)  # SETRANGE keeps the TTL

    def test_string_size_limit(self):
        """APPEND and SETRANGE refuse to grow past proto-max-bulk-len, read
        from the live configuration."""
        r = self.r
        try:
            r.config_set('proto-max-bulk-len', 1024 * 1024)
        except redis.ResponseError as e:
            self.skipTest('CONFIG SET proto-max-bulk-len unsupported: %s' % e)
        try:
            too_big = 'string exceeds maximum allowed size (proto-max-bulk-len)'
            r.set('k', b'x' * (1024 * 1024 - 4))
            self.assertEqual(r.append('k', 'abcd'), 1024 * 1024)
            self.assertEqual(self.err(r.append, 'k', 'e'), too_big)
            self.assertEqual(r.strlen('k'), 1024 * 1024)
            self.assertEqual(self.err(r.setrange, 'k', 1024 * 1024, 'e'), too_big)
            self.assertEqual(r.setrange('k', 1024 * 1024 - 1, 'e'), 1024 * 1024)
        finally:
            r.config_set('proto-max-bulk-len', 512 * 1024 * 1024)

    # ---- Counters -----------------------------------------------------------------

    def test_incr_decr(self):
        r = self.r
        self.assertEqual(r.incr('n'), 1)
        self.assertEqual(r.incr('n'), 2)
        self.assertEqual(r.decr('n'), 1)
        self.assertEqual(r.incrby('n', 100), 101)
        self.assertEqual(r.decrby('n', 201), -100)
        self.assertEqual(r.get('n'), b'-100')
        self.assertEqual(r.decr('fresh'), -1)
        self.assertEqual(r.incrby('fresh2', -5), -5)
        # The digit count changes both ways (in-place rewrite + resize).
        r.set('i', '9')
        self.assertEqual(r.incr('i'), 10)
        self.assertEqual(r.get('i'), b'10')
        self.assertEqual(r.decr('i'), 9)
        self.assertEqual(r.get('i'), b'9')
        r.set('i', '-10')
        self.assertEqual(r.incr('i'), -9)
        self.assertEqual(r.get('i'), b'-9')
        r.set('i', '99999')
        self.assertEqual(r.incrby('i', -99990), 9)
        self.assertEqual(r.get('i'), b'9')
        self.assertEqual(r.strlen('i'), 1)
        # INCR keeps the TTL.
        r.setex('t', 100, '5')
        self.assertEqual(r.incr('t'), 6)
        self.assertEqual(r.ttl('t'), 100)

    def test_incr_errors(self):
        r = self.r
        not_int = 'value is not an integer or out of range'
        for v in ['abc', '', ' 1', '1 ', '+1', '-0', '00', '01', '1.5', '1e3',
                  '12345678901234567890', '9223372036854775808', '0x10', '1\x00']:
            r.set('v', v)
            self.assertEqual(self.err(r.incr, 'v'), not_int, repr(v))
            self.assertEqual(r.get('v'), v.encode())
        for v in ['abc', '', '1.0', '9223372036854775808']:
            self.assertEqual(self.err(r.incrby, 'n', v), not_int, repr(v))
            self.assertEqual(self.err(r.decrby, 'n', v), not_int, repr(v))
        self.assertEqual(r.exists('n'), 0)
        overflow = 'increment or decrement would overflow'
        r.set('big', LLONG_MAX)
        self.assertEqual(self.err(r.incr, 'big'), overflow)
        self.assertEqual(self.err(r.decrby, 'big', -1), overflow)
        self.assertEqual(r.get('big'), str(LLONG_MAX).encode())
        self.assertEqual(r.incrby('big', LLONG_MIN), -1)
        r.set('small', LLONG_MIN)
        self.assertEqual(self.err(r.decr, 'small'), overflow)
        self.assertEqual(self.err(r.incrby, 'small', -1), overflow)
        r.set('m4', -4)
        self.assertEqual(self.err(r.incrby, 'm4', LLONG_MIN), overflow)
        self.assertEqual(self.err(r.decrby, 'm4', LLONG_MIN), 'decrement would overflow')
        self.assertEqual(self.err(r.decrby, 'm4', LLONG_MAX), overflow)
        self.assertEqual(r.decrby('m4', LLONG_MAX - 4), LLONG_MIN + 1)
        r.set('one', 1)
        self.assertEqual(self.err(r.incrby, 'one', LLONG_MAX), overflow)
        self.assertEqual(r.incrby('one', LLONG_MAX - 1), LLONG_MAX)

    def test_incrbyfloat(self):
        r = self.r
        f = lambda *a: self.rc('INCRBYFLOAT', *a)  # noqa: E731
        r.set('f', '10.5')
        self.assertEqual(f('f', '0.1'), b'10.6')
        self.assertEqual(f('f', '5.0e3'), b'5010.60000000000000009')
        self.assertEqual(r.get('f'), b'5010.60000000000000009')
        self.assertEqual(f('new', '3'), b'3')
        self.assertEqual(f('new', '1.0e-20'), b'3')
        self.assertEqual(f('new', '-3.5'), b'-0.5')
        self.assertEqual(f('hex', '0x10'), b'16')  # strtold takes hex
        self.assertEqual(f('int', '5'), b'5')
        self.assertEqual(r.incr('int'), 6)  # still an integer string
        # long double range: past a double's.
        # (1e308 is not exact in binary: "%.17Lf" prints the binary value.)
        one = f('x', '1e308')
        self.assertEqual(len(one), 308)
        self.assertTrue(one.startswith(b'999999999999999999966858796558456456605'))
        self.assertTrue(f('x', '1e308').startswith(b'19999999999999999999337175931169'))
        r.set('huge', '1e400')
        self.assertTrue(f('huge', '1').startswith(b'1000000000000000000'))
        nan_inf = 'increment would produce NaN or Infinity'
        not_float = 'value is not a valid float'
        r.set('g', '1')
        for v in ['inf', '-inf', '+inf', 'Infinity']:
            self.assertEqual(self.err(f, 'g', v), nan_inf, v)
        for v in ['abc', '', ' 1', '1 ', 'nan', '1e5000', '1.0.0', '1\x00']:
            self.assertEqual(self.err(f, 'g', v), not_float, repr(v))
        for v in ['abc', ' 1', 'nan']:
            r.set('bad', v)
            self.assertEqual(self.err(f, 'bad', '1'), not_float, repr(v))
        self.assertEqual(r.get('g'), b'1')
        r.setex('t', 100, '1.5')
        self.assertEqual(f('t', '1'), b'2.5')
        self.assertEqual(r.ttl('t'), 100)  # keeps the TTL

    # ---- Binary safety, big values, pipelining -----------------------------------

    def test_binary_keys_and_values(self):
        r = self.r
        keys = [b'\x00', b'a\x00b', b'\r\n', b'k\r\nSET x y\r\n', b'\xff\xfe',
                bytes(range(256))]
        for i, k in enumerate(keys):
            v = bytes(range(256)) + k + b'\r\n\x00' + str(i).encode()
            self.assertTrue(r.set(k, v))
            self.assertEqual(r.get(k), v)
            self.assertEqual(r.strlen(k), len(v))
        self.assertIsNone(r.get(b'a'))  # "a\0b" is not "a"
        self.assertEqual(r.mget(keys)[1][:256], bytes(range(256)))
        self.assertEqual(r.append(b'\x00', b'\x00\r\n'), 256 + 1 + 3 + 1 + 3)
        self.assertEqual(r.getrange(b'\x00', 0, 2), b'\x00\x01\x02')
        r.mset({b'm\x00': b'\r\n', b'm\r': b'\x00'})
        self.assertEqual(r.mget(b'm\x00', b'm\r'), [b'\r\n', b'\x00'])

    def test_big_values(self):
        r = self.r
        for size in (1 << 20, 8 << 20):
            v = os.urandom(size)
            self.assertTrue(r.set('big', v))
            self.assertEqual(r.get('big'), v)
            self.assertEqual(r.strlen('big'), size)
            self.assertEqual(r.getrange('big', size - 10, -1), v[-10:])
            self.assertEqual(r.append('big', b'tail'), size + 4)
            self.assertEqual(r.getset('big', 'small'), v + b'tail')
        # SETRANGE far out pads with zeros.
        self.assertEqual(r.setrange('pad', (1 << 20) - 1, 'x'), 1 << 20)
        self.assertEqual(r.get('pad'), b'\x00' * ((1 << 20) - 1) + b'x')

    def test_pipeline(self):
        r = self.r
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set('p%d' % i, i)
            p.get('p%d' % i)
            p.incr('ctr')
        out = p.execute()
        for i in range(2000):
            self.assertEqual(out[3 * i], True)
            self.assertEqual(out[3 * i + 1], str(i).encode())
            self.assertEqual(out[3 * i + 2], i + 1)

    # ---- RESP3 ----------------------------------------------------------------------

    def test_resp3_replies(self):
        c = self.ours()
        try:
            c.hello3()
            self.assertEqual(c.call('GET', 'nokey'), b'_\r\n')
            self.assertEqual(c.call('SET', 'k', '1'), b'+OK\r\n')
            self.assertEqual(c.call('SET', 'k', '2', 'NX'), b'_\r\n')
            self.assertEqual(c.call('SET', 'k', '3', 'GET'), b'$1\r\n1\r\n')
            self.assertEqual(c.call('SET', 'n', '3', 'GET'), b'_\r\n')
            self.assertEqual(c.call('GET', 'k'), b'$1\r\n3\r\n')
            self.assertEqual(c.call('MGET', 'k', 'nokey'), b'*2\r\n$1\r\n3\r\n_\r\n')
            self.assertEqual(c.call('INCR', 'k'), b':4\r\n')
            self.assertEqual(c.call('INCRBYFLOAT', 'k', '0.5'), b'$3\r\n4.5\r\n')
            self.assertEqual(c.call('GETDEL', 'nokey'), b'_\r\n')
            self.assertEqual(c.call('GETEX', 'nokey'), b'_\r\n')
            self.assertEqual(c.call('GETSET', 'nokey', 'v'), b'_\r\n')
            self.assertEqual(c.call('GETRANGE', 'nokey3', '0', '1'), b'$0\r\n\r\n')
            self.assertEqual(c.call('SETNX', 'k', 'x'), b':0\r\n')
            self.assertEqual(c.call('MSETNX', 'k', 'x'), b':0\r\n')
            self.assertEqual(c.call('MSET', 'a', '1'), b'+OK\r\n')
            self.assertEqual(c.call('STRLEN', 'a'), b':1\r\n')
            self.assertEqual(c.call('INCR', 'nokey2'), b':1\r\n')
            self.assertEqual(c.call('SET', 'k', 'v', 'FOO'), b'-ERR syntax error\r\n')
        finally:
            c.close()

    def test_resp2_raw_replies(self):
        c = self.ours()
        try:
            self.assertEqual(c.call('GET', 'nokey'), b'$-1\r\n')
            self.assertEqual(c.call('SET', 'k', '1', 'XX'), b'$-1\r\n')
            self.assertEqual(c.call('SET', 'k', '1'), b'+OK\r\n')
            self.assertEqual(c.call('MGET', 'nokey', 'k'), b'*2\r\n$-1\r\n$1\r\n1\r\n')
            self.assertEqual(c.call('INCRBY', 'k', '-2'), b':-1\r\n')
            self.assertEqual(c.call('GETRANGE', 'k', '5', '1'), b'$0\r\n\r\n')
            self.assertEqual(c.call('INCR', 'k\x00'), b':1\r\n')
            self.assertEqual(c.call('GET', 'k'), b'$2\r\n-1\r\n')
        finally:
            c.close()

    # ---- Statistics ------------------------------------------------------------------

    def test_keyspace_hits_misses(self):
        r = self.r

        def stats():
            s = r.info('stats')
            return s['keyspace_hits'], s['keyspace_misses']

        r.set('k', 'v')
        h0, m0 = stats()
        r.get('k')                          # hit
        r.get('nokey')                      # miss
        r.mget('k', 'nokey', 'k', 'x')      # 2 hits, 2 misses
        r.strlen('k')                       # hit
        r.getrange('nokey', 0, 1)           # miss
        r.execute_command('SET', 'k', 'w', 'GET')  # hit
        r.getset('nokey2', 'v')             # miss (then created)
        r.incr('ctr')                       # write lookups count nothing
        r.append('k', 'x')
        r.setnx('k', 'y')
        r.set('k', 'v')
        h1, m1 = stats()
        self.assertEqual((h1 - h0, m1 - m0), (5, 5))

    # ---- Concurrency --------------------------------------------------------------------

    def test_concurrent_incr_exact_total(self):
        threads, rounds, batch = 8, 25, 20
        errors = []

        def worker(i):
            try:
                c = self.client()
                for _ in range(rounds):
                    p = c.pipeline(transaction=False)
                    for _ in range(batch):
                        p.incr('ctr')
                        p.incrby('ctr2', 3)
                        p.decr('ctr3')
                        p.incrbyfloat('fl', 0.5)
                    p.execute()
                c.close()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        n = threads * rounds * batch
        self.assertEqual(int(self.r.get('ctr')), n)
        self.assertEqual(int(self.r.get('ctr2')), 3 * n)
        self.assertEqual(int(self.r.get('ctr3')), -n)
        self.assertEqual(float(self.r.get('fl')), 0.5 * n)

    def test_mset_is_atomic(self):
        """One thread MSETs k0..k9 (different shards) to the same value over
        and over, another MGETs them: every MGET sees one value."""
        keys = ['atomic:%d:%s' % (i, 'x' * i) for i in range(10)]
        self.r.mset({k: 0 for k in keys})
        stop = threading.Event()
        errors = []
        seen = set()

        def writer():
            c = self.client()
            i = 0
            try:
                while not stop.is_set():
                    i += 1
                    c.mset({k: i for k in keys})
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        def reader():
            c = self.client()
            try:
                while not stop.is_set():
                    vals = c.mget(keys)
                    if len(set(vals)) != 1:
                        errors.append('torn MSET: %r' % vals)
                        return
                    seen.add(vals[0])
            except Exception as e:  # pragma: no cover
                errors.append(e)
            finally:
                c.close()

        ts = [threading.Thread(target=writer), threading.Thread(target=reader),
              threading.Thread(target=reader)]
        for t in ts:
            t.start()
        time.sleep(1.5)
        stop.set()
        for t in ts:
            t.join(30)
        self.assertEqual(errors, [])
        # The readers did see the writer make progress (not a vacuous test).
        self.assertGreater(len(seen), 2)

    def test_msetnx_is_atomic(self):
        """Two clients race MSETNX on overlapping key sets: exactly one
        wins each round, and the winner's keys are all its own."""
        for rnd in range(50):
            ka = ['r%d:a' % rnd, 'r%d:shared' % rnd, 'r%d:b' % rnd]
            kb = ['r%d:c' % rnd, 'r%d:shared' % rnd, 'r%d:d' % rnd]
            results = {}

            def go(name, ks):
                c = self.client()
                results[name] = c.msetnx({k: name for k in ks})
                c.close()

            ts = [threading.Thread(target=go, args=('A', ka)),
                  threading.Thread(target=go, args=('B', kb))]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
            self.assertEqual(sorted(results.values()), [False, True])
            win = 'A' if results['A'] else 'B'
            lose_keys = kb if win == 'A' else ka
            self.assertEqual(self.r.get('r%d:shared' % rnd), win.encode())
            self.assertEqual(sum(self.r.exists(k) for k in lose_keys), 1)

    # ---- Differential: the same scripts on Redis 7.0 --------------------------------------

    def test_same_as_redis_set_get(self):
        self.assert_same_replies([
            ('GET', 'k'), ('SET', 'k', 'v'), ('GET', 'k'), ('SET', 'k', 'v2', 'GET'),
            ('SET', 'n', 'x', 'NX', 'GET'), ('SET', 'k', 'v', 'NX'), ('SET', 'k', 'v', 'XX'),
            ('SET', 'new', 'v', 'XX'), ('SET', 'new', 'v', 'XX', 'GET'),
            ('SET', 'k', 'v', 'NX', 'XX'), ('SET', 'k', 'v', 'XX', 'NX'),
            ('SET', 'k', 'v', 'EX', '10', 'PX', '10'), ('SET', 'k', 'v', 'KEEPTTL', 'EX', '1'),
            ('SET', 'k', 'v', 'EX', '1', 'KEEPTTL'), ('SET', 'k', 'v', 'EX'),
            ('SET', 'k', 'v', 'PXAT'), ('SET', 'k', 'v', 'PERSIST'), ('SET', 'k', 'v', 'foo'),
            ('SET', 'k', 'v', 'EX', '0'), ('SET', 'k', 'v', 'EX', '-1'), ('SET', 'k', 'v', 'PX', '0'),
            ('SET', 'k', 'v', 'EXAT', '0'), ('SET', 'k', 'v', 'EX', 'abc'),
            ('SET', 'k', 'v', 'EX', '1.5'), ('SET', 'k', 'v', 'EX', '9223372036854775'),
            ('SET', 'k', 'v', 'EX', '9223372036854775807'),
            ('SET', 'k', 'v', 'PX', '9223372036854775807'),
            ('SET', 'k', 'v', 'EX', '100'), ('TTL', 'k'), ('SET', 'k', 'v', 'KEEPTTL'),
            ('TTL', 'k'), ('SET', 'k', 'v'), ('TTL', 'k'), ('SET', 'k', 'v', 'ex', '10', 'ex', '20'),
            ('TTL', 'k'), ('SET', 'k', 'v', 'keepttl', 'keepttl'), ('TTL', 'k'),
            ('SET', 'k', 'v', 'PXAT', '4000000000000'), ('PEXPIRETIME', 'k'),
            ('SET', 'k', 'v', 'EXAT', '1'), ('GET', 'k'), ('EXISTS', 'k'),
            ('SETNX', 'a', '1'), ('SETNX', 'a', '2'), ('GET', 'a'),
            ('SETEX', 'b', '100', 'v'), ('TTL', 'b'), ('SETEX', 'b', '0', 'v'),
            ('SETEX', 'b', '-1', 'v'), ('SETEX', 'b', 'x', 'v'), ('PSETEX', 'c', '100000', 'v'),
            ('TTL', 'c'), ('PSETEX', 'c', '0', 'v'), ('PSETEX', 'c', '-9223372036854775808', 'v'),
            ('GET',), ('SET', 'k'), ('SETNX', 'k'), ('SETEX', 'k', '1'),
        ])

    def test_same_as_redis_multi(self):
        self.assert_same_replies([
            ('MSET', 'a', '1', 'b', '2'), ('MGET', 'a', 'nokey', 'b'), ('MSET', 'a'),
            ('MSET', 'a', '1', 'b'), ('MSETNX', 'a', '1', 'z', '2'), ('GET', 'z'),
            ('MSETNX', 'y', '1', 'z', '2'), ('MGET', 'y', 'z'), ('MSETNX', 'q', '1', 'q', '2'),
            ('GET', 'q'), ('MSETNX', 'a'), ('MGET',),
            ('GETSET', 'gs', '1'), ('GETSET', 'gs', '2'), ('SETEX', 'gs', '100', '3'),
            ('GETSET', 'gs', '4'), ('TTL', 'gs'), ('GETDEL', 'gs'), ('GETDEL', 'gs'),
            ('EXISTS', 'gs'), ('GETSET', 'x'),
            ('SET', 'k', 'v'), ('GETEX', 'k'), ('GETEX', 'nokey'), ('GETEX', 'nokey', 'EX', '0'),
            ('GETEX', 'nokey', 'NX'), ('GETEX', 'k', 'EX', '100'), ('TTL', 'k'),
            ('GETEX', 'k', 'PERSIST'), ('TTL', 'k'), ('GETEX', 'k', 'PERSIST', 'EX', '10'),
            ('GETEX', 'k', 'EX', '10', 'PERSIST'), ('GETEX', 'k', 'KEEPTTL'),
            ('GETEX', 'k', 'GET'), ('GETEX', 'k', 'EX'), ('GETEX', 'k', 'EX', '0'),
            ('GETEX', 'k', 'PXAT', '-1'), ('GETEX', 'k', 'EX', '9223372036854775'),
            ('GETEX', 'k', 'EX', 'x'), ('GETEX', 'k', 'persist', 'persist'),
            ('GETEX', 'k', 'EXAT', '4000000000'), ('EXPIRETIME', 'k'),
            ('GETEX', 'k', 'EXAT', '1'), ('EXISTS', 'k'),
        ])

    def test_same_as_redis_ranges(self):
        script = [('APPEND', 'ap', 'hello'), ('APPEND', 'ap', ' world'), ('GET', 'ap'),
                  ('APPEND', 'ap', ''), ('APPEND', 'e', ''), ('EXISTS', 'e'),
                  ('SETEX', 'ap2', '100', 'x'), ('APPEND', 'ap2', 'y'), ('TTL', 'ap2'),
                  ('STRLEN', 'ap'), ('STRLEN', 'nokey'), ('SET', 's', 'This is a string')]
        for a, b in [(0, 3), (-3, -1), (0, -1), (10, 100), (-1, -5), (5, 3), (-100, -50),
                     (LLONG_MIN, -1), (0, LLONG_MAX), (16, 20), (-17, 0), (3, 3)]:
            script.append(('GETRANGE', 's', str(a), str(b)))
            script.append(('SUBSTR', 's', str(a), str(b)))
        script += [('GETRANGE', 'nokey', '0', '-1'), ('GETRANGE', 's', 'a', '1'),
                   ('GETRANGE', 's', '0', '99999999999999999999'),
                   ('SETRANGE', 'sr', '0', 'hello'), ('SETRANGE', 'sr', '6', 'world'),
                   ('GET', 'sr'), ('SETRANGE', 'pad', '5', 'x'), ('GET', 'pad'),
                   ('SETRANGE', 'none', '10', ''), ('EXISTS', 'none'), ('SETRANGE', 'sr', '100', ''),
                   ('SETRANGE', 'sr', '-1', 'x'), ('SETRANGE', 'sr', 'a', 'x'),
                   ('SETRANGE', 'sr', '536870912', 'x'), ('SETRANGE', 'n', '536870912', 'x'),
                   ('SETRANGE', 'n', '9223372036854775807', 'x'), ('SETRANGE', 'sr', '536870912', ''),
                   ('EXISTS', 'n'), ('SETRANGE', 'sr', '1', 'EEEEEEEEEEEEEEEEEEEEEE'), ('GET', 'sr')]
        self.assert_same_replies(script)

    def test_same_as_redis_counters(self):
        script = [('INCR', 'n'), ('INCR', 'n'), ('DECR', 'n'), ('INCRBY', 'n', '100'),
                  ('DECRBY', 'n', '201'), ('GET', 'n'), ('DECR', 'fresh'), ('INCRBY', 'f2', '-5'),
                  ('SET', 'i', '9'), ('INCR', 'i'), ('GET', 'i'), ('SET', 'i', '-10'),
                  ('INCR', 'i'), ('GET', 'i'), ('INCRBY', 'i', 'abc'), ('INCRBY', 'i', ''),
                  ('DECRBY', 'i', '-9223372036854775808'), ('DECRBY', 'i', '9223372036854775808')]
        for v in ['abc', '', ' 1', '1 ', '+1', '-0', '00', '1.5', '12345678901234567890',
                  '9223372036854775807', '-9223372036854775808', '0']:
            script += [('SET', 'v', v), ('INCR', 'v'), ('DECR', 'v'), ('INCRBY', 'v', '-9223372036854775808'),
                       ('INCRBY', 'v', '9223372036854775807'), ('GET', 'v')]
        for v in ['10.5', '3', '-3.5', 'abc', '1e400', ' 1', '', '0x10', '5', '1e-5',
                  '9223372036854775807']:
            for inc in ['0.1', '5.0e3', '1.0e-20', 'inf', '-inf', 'nan', 'abc', '1e308',
                        '1e5000', '-1e308', '0x10', '0', '-0.5']:
                script += [('SET', 'f', v), ('INCRBYFLOAT', 'f', inc), ('GET', 'f')]
        script += [('INCRBYFLOAT', 'x', '1e308'), ('INCRBYFLOAT', 'x', '1e308'),
                   ('INCRBYFLOAT', 'nokey', '1.5'), ('INCR',), ('INCRBY', 'k'),
                   ('INCRBYFLOAT', 'k')]
        self.assert_same_replies(script)


if __name__ == '__main__':
    harness.main()
