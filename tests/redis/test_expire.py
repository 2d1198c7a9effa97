"""test_expire.py - key expiry (cmd_expire.c and the store's lazy and
active expiry) against Redis 7.0's behaviour: EXPIRE PEXPIRE EXPIREAT
PEXPIREAT with NX/XX/GT/LT, TTL PTTL EXPIRETIME PEXPIRETIME PERSIST.

  - replies and exact errors (option conflicts, unsupported options,
    overflow per command), a time in the past deleting the key;
  - which commands keep, set or drop a TTL;
  - precision: a PX 100 key is there before 100 ms and gone after;
  - an expired key is never returned by GET, MGET, EXISTS, TTL, KEYS,
    SCAN, RANDOMKEY..., even before active expiry reclaims it;
  - active expiry: 1,000 keys with PX 50 leave DBSIZE within ~2 s with
    nobody touching them, and keys with a long TTL stay;
  - RESP3, and a differential test against the real Redis 7.0.
"""

import time

import redis

import harness
from rds_testlib import DiffMixin, Error

LLONG_MAX = 2 ** 63 - 1
LLONG_MIN = -2 ** 63
FAR = 4000000000  # a Unix time in seconds well in the future


def tearDownModule():
    DiffMixin.stop_reference()


class ExpireTest(DiffMixin, harness.ServerTest):

    def err(self, fn, *args, **kw):
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kw)
        return str(cm.exception)

    def xc(self, *args):
        return self.r.execute_command(*args)

    # ---- Setting and reading expiries -------------------------------------------

    def test_expire_family_basics(self):
        r = self.r
        for cmd in ('EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT'):
            self.assertEqual(self.xc(cmd, 'nokey', 100), 0, cmd)
        r.set('k', 'v')
        self.assertEqual(self.xc('EXPIRE', 'k', 100), 1)
        self.assertEqual(r.ttl('k'), 100)
        self.assertTrue(99000 < r.pttl('k') <= 100000)
        self.assertEqual(self.xc('PEXPIRE', 'k', 50000), 1)
        self.assertTrue(49000 < r.pttl('k') <= 50000)
        self.assertEqual(r.ttl('k'), 50)
        self.assertEqual(self.xc('EXPIREAT', 'k', FAR), 1)
        self.assertEqual(self.xc('EXPIRETIME', 'k'), FAR)
        self.assertEqual(self.xc('PEXPIRETIME', 'k'), FAR * 1000)
        self.assertEqual(self.xc('PEXPIREAT', 'k', FAR * 1000 + 123), 1)
        self.assertEqual(self.xc('PEXPIRETIME', 'k'), FAR * 1000 + 123)
        self.assertEqual(r.get('k'), b'v')  # the value is untouched

    def test_ttl_replies(self):
        r = self.r
        for cmd in ('TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME'):
            self.assertEqual(self.xc(cmd, 'nokey'), -2, cmd)
        r.set('k', 'v')
        for cmd in ('TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME'):
            self.assertEqual(self.xc(cmd, 'k'), -1, cmd)
        # EXPIRETIME rounds ms to the nearest second, as TTL does.
        self.xc('PEXPIREAT', 'k', FAR * 1000 + 499)
        self.assertEqual(self.xc('EXPIRETIME', 'k'), FAR)
        self.xc('PEXPIREAT', 'k', FAR * 1000 + 500)
        self.assertEqual(self.xc('EXPIRETIME', 'k'), FAR + 1)
        # TTL rounds too: 1.4 s left reads 1, 1.9 s reads 2.
        self.xc('PEXPIRE', 'k', 1400)
        self.assertEqual(r.ttl('k'), 1)
        self.xc('PEXPIRE', 'k', 1900)
        self.assertEqual(r.ttl('k'), 2)
        self.xc('PEXPIREAT', 'k', LLONG_MAX)
        self.assertEqual(self.xc('PEXPIRETIME', 'k'), LLONG_MAX)
        self.assertGreater(r.pttl('k'), 2 ** 62)
        # Rounding the largest times to seconds must not overflow (Redis
        # 7.0 answers the rounded-up value, not a wrapped negative one).
        self.assertEqual(self.xc('EXPIRETIME', 'k'), (LLONG_MAX + 500) // 1000)
        self.xc('PEXPIREAT', 'k', LLONG_MAX - 499)
        self.assertEqual(self.xc('EXPIRETIME', 'k'), (LLONG_MAX - 499 + 500) // 1000)

    def test_persist(self):
        r = self.r
        self.assertEqual(r.persist('nokey'), 0)
        r.set('k', 'v')
        self.assertEqual(r.persist('k'), 0)
        r.expire('k', 100)
        self.assertEqual(r.persist('k'), 1)
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(r.persist('k'), 0)
        r.set('e', 'v', px=1)
        time.sleep(0.01)
        self.assertEqual(r.persist('e'), 0)  # expired: missing
        self.assertEqual(r.exists('e'), 0)

    def test_past_times_delete(self):
        r = self.r
        cases = [('EXPIRE', 0), ('EXPIRE', -1), ('PEXPIRE', -100), ('EXPIREAT', 1),
                 ('PEXPIREAT', 0), ('EXPIREAT', -5), ('EXPIRE', -(2 ** 63 // 1000)),
                 ('PEXPIRE', LLONG_MIN), ('PEXPIREAT', int(time.time() * 1000) - 10)]
        for cmd, t in cases:
            r.set('k', 'v')
            self.assertEqual(self.xc(cmd, 'k', t), 1, (cmd, t))
            self.assertEqual(r.exists('k'), 0, (cmd, t))
            self.assertEqual(r.ttl('k'), -2)
        self.assertEqual(r.dbsize(), 0)  # deleted at once, not left to expire

    def test_overflow_errors(self):
        r = self.r
        r.set('k', 'v')
        for cmd, t in [('EXPIRE', LLONG_MAX), ('EXPIRE', LLONG_MAX // 1000 + 1),
                       ('EXPIRE', LLONG_MIN), ('EXPIRE', LLONG_MIN // 1000 - 1),
                       ('PEXPIRE', LLONG_MAX), ('EXPIREAT', LLONG_MAX),
                       ('EXPIREAT', LLONG_MIN)]:
            self.assertEqual(self.err(self.xc, cmd, 'k', t),
                             "invalid expire time in '%s' command" % cmd.lower())
        # The largest absolute times that fit are fine.
        self.assertEqual(self.xc('EXPIREAT', 'k', LLONG_MAX // 1000), 1)
        self.assertEqual(self.xc('EXPIRETIME', 'k'), (LLONG_MAX // 1000 * 1000 + 500) // 1000)
        self.assertEqual(self.xc('PEXPIREAT', 'k', LLONG_MAX), 1)
        for t in ['abc', '', '1.5', ' 1', '99999999999999999999']:
            self.assertEqual(self.err(self.xc, 'EXPIRE', 'k', t),
                             'value is not an integer or out of range', repr(t))
        # Nothing changed.
        self.assertEqual(self.xc('PEXPIRETIME', 'k'), LLONG_MAX)
        # Errors come before the key lookup: same errors on a missing key.
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'nokey', LLONG_MAX),
                         "invalid expire time in 'expire' command")

    # ---- NX XX GT LT ----------------------------------------------------------------

    def test_nx_xx_gt_lt(self):
        r = self.r
        x = self.xc
        r.set('k', 'v')
        self.assertEqual(x('EXPIRE', 'k', 100, 'XX'), 0)   # no TTL yet
        self.assertEqual(x('EXPIRE', 'k', 100, 'GT'), 0)   # none is infinite
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(x('EXPIRE', 'k', 100, 'LT'), 1)   # anything is less
        self.assertEqual(r.ttl('k'), 100)
        self.assertEqual(x('EXPIRE', 'k', 200, 'NX'), 0)   # has one
        self.assertEqual(x('EXPIRE', 'k', 200, 'XX'), 1)
        self.assertEqual(r.ttl('k'), 200)
        self.assertEqual(x('EXPIRE', 'k', 100, 'GT'), 0)
        self.assertEqual(x('EXPIRE', 'k', 300, 'GT'), 1)
        self.assertEqual(x('EXPIRE', 'k', 400, 'LT'), 0)
        self.assertEqual(x('EXPIRE', 'k', 50, 'LT'), 1)
        self.assertEqual(r.ttl('k'), 50)
        self.assertEqual(x('EXPIRE', 'k', 60, 'XX', 'GT'), 1)
        self.assertEqual(x('EXPIRE', 'k', 10, 'xx', 'lt'), 1)
        self.assertEqual(r.ttl('k'), 10)
        self.assertEqual(x('EXPIRE', 'k', 20, 'GT', 'GT'), 1)  # repeats are fine
        # Equal times are neither greater nor less.
        x('PEXPIREAT', 'k', FAR * 1000)
        self.assertEqual(x('PEXPIREAT', 'k', FAR * 1000, 'GT'), 0)
        self.assertEqual(x('PEXPIREAT', 'k', FAR * 1000, 'LT'), 0)
        self.assertEqual(x('EXPIREAT', 'k', FAR, 'XX'), 1)
        r.persist('k')
        self.assertEqual(x('PEXPIRE', 'k', 100000, 'NX'), 1)
        self.assertEqual(x('PEXPIREAT', 'k', FAR * 1000, 'nx'), 0)
        # A past time that passes the condition deletes.
        self.assertEqual(x('EXPIRE', 'k', -1, 'LT'), 1)
        self.assertEqual(r.exists('k'), 0)
        r.set('k', 'v')
        self.assertEqual(x('EXPIRE', 'k', -1, 'GT'), 0)  # no TTL: GT fails
        self.assertEqual(x('EXPIRE', 'k', -1, 'XX'), 0)
        self.assertEqual(r.exists('k'), 1)
        self.assertEqual(x('EXPIRE', 'k', -1, 'NX'), 1)
        self.assertEqual(r.exists('k'), 0)
        # A missing key: 0 whatever the options.
        for opt in ('NX', 'XX', 'GT', 'LT'):
            self.assertEqual(x('EXPIRE', 'nokey', 10, opt), 0)

    def test_option_errors(self):
        r = self.r
        r.set('k', 'v')
        nx = 'NX and XX, GT or LT options at the same time are not compatible'
        gtlt = 'GT and LT options at the same time are not compatible'
        for opts, want in [(['NX', 'XX'], nx), (['XX', 'NX'], nx), (['NX', 'GT'], nx),
                           (['LT', 'NX'], nx), (['nx', 'xx', 'gt', 'lt'], nx),
                           (['GT', 'LT'], gtlt), (['lt', 'XX', 'gt'], gtlt)]:
            for cmd in ('EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT'):
                self.assertEqual(self.err(self.xc, cmd, 'k', 100, *opts), want, opts)
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'k', 100, 'foo'),
                         'Unsupported option foo')
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'k', 100, 'NX', 'bar'),
                         'Unsupported option bar')
        # Options are checked before the time.
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'k', 'abc', 'foo'),
                         'Unsupported option foo')
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'k', 'abc', 'NX', 'XX'), nx)
        self.assertEqual(self.err(self.xc, 'EXPIRE', 'nokey', 10, 'GT', 'LT'), gtlt)
        self.assertEqual(r.ttl('k'), -1)
        c = self.ours()
        try:
            for args in [('EXPIRE', 'k'), ('PEXPIREAT', 'k'), ('TTL',), ('TTL', 'a', 'b'),
                         ('PERSIST',), ('EXPIRETIME',), ('PTTL', 'a', 'b')]:
                self.assertEqual(c.cmd(*args), Error(
                    b"ERR wrong number of arguments for '%s' command"
                    % args[0].lower().encode()))
        finally:
            c.close()

    # ---- Which commands keep the TTL ----------------------------------------------------

    def test_ttl_kept_or_dropped(self):
        r = self.r
        r1 = self.client(db=1)
        self.addCleanup(r1.close)
        cases = [
            ('SET', lambda: r.set('k', 'v'), r, 'k', -1),
            ('GETSET', lambda: r.getset('k', 'v'), r, 'k', -1),
            ('MSET', lambda: r.mset({'k': 'v'}), r, 'k', -1),
            ('SET KEEPTTL', lambda: r.set('k', 'v', keepttl=True), r, 'k', 100),
            ('INCR', lambda: r.incr('k'), r, 'k', 100),
            ('INCRBYFLOAT', lambda: r.incrbyfloat('k', 1.5), r, 'k', 100),
            ('APPEND', lambda: r.append('k', 'x'), r, 'k', 100),
            ('SETRANGE', lambda: r.setrange('k', 3, 'x'), r, 'k', 100),
            ('GETEX', lambda: self.xc('GETEX', 'k'), r, 'k', 100),
            ('GETEX PERSIST', lambda: self.xc('GETEX', 'k', 'PERSIST'), r, 'k', -1),
            ('RENAME', lambda: r.rename('k', 'k2'), r, 'k2', 100),
            ('COPY', lambda: self.xc('COPY', 'k', 'k3'), r, 'k3', 100),
            ('MOVE', lambda: r.move('k', 1), r1, 'k', 100),
        ]
        for name, op, conn, key, want in cases:
            r.set('k', '1')
            r.expire('k', 100)
            op()
            self.assertEqual(conn.ttl(key), want, name)

    # ---- Time ---------------------------------------------------------------------------

    def test_precision_px_100(self):
        """SET PX 100: there before 100 ms have passed, gone after."""
        r = self.r
        checked_present = False
        for attempt in range(5):
            t0 = time.monotonic()
            r.set('k', 'v', px=100)
            t1 = time.monotonic()
            time.sleep(0.05)
            v = r.get('k')
            t2 = time.monotonic()
            # The server's clock started the 100 ms at or after t0, so a
            # GET answered before t0 + 95 ms must find the key.
            if t2 - t0 < 0.095:
                self.assertEqual(v, b'v')
                checked_present = True
            # ...and at or before t1, so after t1 + 100 ms it is gone.
            time.sleep(max(0.0, t1 + 0.150 - time.monotonic()))
            self.assertIsNone(r.get('k'))
            self.assertEqual(r.exists('k'), 0)
            self.assertEqual(r.ttl('k'), -2)
            if checked_present:
                break
        self.assertTrue(checked_present, 'the machine was too slow to check '
                                         'the key within 95 ms in 5 attempts')

    def test_expired_never_returned(self):
        """Expired keys, whether or not active expiry has reclaimed them
        yet, are invisible to every read."""
        r = self.r
        p = r.pipeline(transaction=False)
        for i in range(1000):
            p.set('gone:%d' % i, 'v', px=30)
        p.set('live', 'v')
        p.execute()
        time.sleep(0.06)
        names = ['gone:%d' % i for i in range(0, 1000, 7)]
        self.assertEqual(r.mget(names), [None] * len(names))
        self.assertEqual(r.exists(*names), 0)
        self.assertEqual(r.keys('gone:*'), [])
        cursor, got = 0, []
        while True:
            cursor, keys = r.scan(cursor, count=50)
            got += keys
            if cursor == 0:
                break
        self.assertEqual(set(got), {b'live'})
        for _ in range(20):
            self.assertEqual(r.randomkey(), b'live')
        for n in names[:30]:
            self.assertIsNone(r.get(n))
            self.assertEqual(r.ttl(n), -2)
            self.assertEqual(r.pttl(n), -2)
            self.assertEqual(self.xc('EXPIRETIME', n), -2)
            self.assertEqual(r.type(n), b'none')
            self.assertEqual(r.strlen(n), 0)
            self.assertEqual(r.expire(n, 100), 0)
            self.assertEqual(r.persist(n), 0)
            self.assertIsNone(self.xc('GETDEL', n))
        self.assertIsNone(r.getset('gone:1', 'new'))  # a fresh key now
        self.assertEqual(r.ttl('gone:1'), -1)
        self.assertEqual(r.incr('gone:2'), 1)
        self.assertEqual(r.append('gone:3', 'ab'), 2)
        self.assertEqual(self.xc('SETNX', 'gone:4', 'x'), 1)
        self.assertTrue(r.set('gone:5', 'x', nx=True))
        self.assertIsNone(r.set('gone:6', 'x', xx=True))
        self.assertEqual(self.xc('RENAMENX', 'live', 'gone:8'), 1)

    def test_active_expiry(self):
        """1,000 keys with PX 50 leave DBSIZE within ~2 s untouched; keys
        with a long TTL and without one stay."""
        r = self.r
        p = r.pipeline(transaction=False)
        for i in range(1000):
            p.set('short:%d' % i, 'v', px=50)
        for i in range(100):
            p.set('long:%d' % i, 'v', px=100000)
            p.set('forever:%d' % i, 'v')
        p.execute()
        t0 = time.monotonic()
        while r.dbsize() > 200 and time.monotonic() - t0 < 5.0:
            time.sleep(0.05)
        took = time.monotonic() - t0
        self.assertEqual(r.dbsize(), 200, 'after %.2f s' % took)
        self.assertLess(took, 2.5, 'active expiry took %.2f s' % took)
        self.assertEqual(len(r.keys('long:*')), 100)
        self.assertEqual(len(r.keys('forever:*')), 100)
        # The other databases are cycled too.
        r5 = self.client(db=5)
        try:
            p = r5.pipeline(transaction=False)
            for i in range(500):
                p.set('s:%d' % i, 'v', px=20)
            p.execute()
            t0 = time.monotonic()
            while r5.dbsize() > 0 and time.monotonic() - t0 < 5.0:
                time.sleep(0.05)
            self.assertEqual(r5.dbsize(), 0)
        finally:
            r5.close()

    # ---- RESP3 -------------------------------------------------------------------------

    def test_resp3(self):
        c = self.ours()
        try:
            c.hello3()
            self.assertEqual(c.call('TTL', 'nokey'), b':-2\r\n')
            self.assertEqual(c.call('SET', 'k', 'v'), b'+OK\r\n')
            self.assertEqual(c.call('PTTL', 'k'), b':-1\r\n')
            self.assertEqual(c.call('EXPIRE', 'k', '100'), b':1\r\n')
            self.assertEqual(c.call('TTL', 'k'), b':100\r\n')
            self.assertEqual(c.call('PEXPIREAT', 'k', str(FAR * 1000)), b':1\r\n')
            self.assertEqual(c.call('EXPIRETIME', 'k'), b':%d\r\n' % FAR)
            self.assertEqual(c.call('PERSIST', 'k'), b':1\r\n')
            self.assertEqual(c.call('EXPIRE', 'k', '1', 'NX', 'XX'),
                             b'-ERR NX and XX, GT or LT options at the same time '
                             b'are not compatible\r\n')
        finally:
            c.close()

    # ---- Differential -------------------------------------------------------------------

    def test_same_as_redis(self):
        script = []
        for cmd in ('EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT'):
            script += [('SET', 'k', 'v'), (cmd, 'nokey', '100'), (cmd, 'k', 'abc'), (cmd, 'k', '100', 'foo'),
                       (cmd, 'k', 'abc', 'foo'), (cmd, 'k', '1', 'NX', 'XX'),
                       (cmd, 'k', '1', 'GT', 'LT'), (cmd, 'k', '1', 'nx', 'gt'),
                       (cmd, 'k', '9223372036854775807'), (cmd, 'k', '-9223372036854775808'),
                       (cmd, 'k', '9223372036854775'), (cmd, 'k', '9223372036854776'),
                       (cmd, 'k', '-9223372036854776'), (cmd, 'k'), (cmd,)]
        script += [('SET', 'k', 'v'), ('TTL', 'k'), ('EXPIRE', 'k', '100', 'XX'), ('EXPIRE', 'k', '100', 'GT'),
                   ('EXPIRE', 'k', '100', 'LT'), ('TTL', 'k'), ('EXPIRE', 'k', '200', 'NX'),
                   ('EXPIRE', 'k', '200', 'XX'), ('TTL', 'k'), ('EXPIRE', 'k', '100', 'GT'),
                   ('EXPIRE', 'k', '300', 'GT'), ('EXPIRE', 'k', '400', 'LT'), ('TTL', 'k'),
                   ('PEXPIREAT', 'k', '4000000000499'), ('EXPIRETIME', 'k'),
                   ('PEXPIRETIME', 'k'), ('PEXPIREAT', 'k', '4000000000500'),
                   ('EXPIRETIME', 'k'), ('PEXPIREAT', 'k', '4000000000500', 'GT'),
                   ('PEXPIREAT', 'k', '4000000000500', 'LT'), ('PERSIST', 'k'),
                   ('PERSIST', 'k'), ('PERSIST', 'nokey'), ('TTL', 'k'), ('PTTL', 'k'),
                   ('EXPIRETIME', 'k'), ('PEXPIRETIME', 'k'), ('TTL', 'nokey'),
                   ('PTTL', 'nokey'), ('EXPIRETIME', 'nokey'), ('PEXPIRETIME', 'nokey'),
                   ('EXPIRE', 'k', '-1', 'GT'), ('EXISTS', 'k'), ('EXPIRE', 'k', '-1', 'NX'),
                   ('EXISTS', 'k'), ('SET', 'k', 'v'), ('EXPIREAT', 'k', '1'), ('EXISTS', 'k'),
                   ('SET', 'k', 'v'), ('PEXPIRE', 'k', '0'), ('EXISTS', 'k'),
                   ('SET', 'k', 'v'), ('EXPIREAT', 'k', '9223372036854775'), ('EXPIRETIME', 'k'),
                   ('PEXPIREAT', 'k', '9223372036854775807'), ('PEXPIRETIME', 'k'),
                   ('EXPIRETIME', 'k'), ('PEXPIREAT', 'k', '9223372036854775308'),
                   ('EXPIRETIME', 'k'), ('PEXPIREAT', 'k', '9223372036854775307'),
                   ('EXPIRETIME', 'k'), ('TTL',), ('PERSIST',), ('PERSIST', 'a', 'b')]
        self.assert_same_replies(script)


if __name__ == '__main__':
    harness.main()
