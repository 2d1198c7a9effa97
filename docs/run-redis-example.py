#!/usr/bin/env python3
"""run-redis-example.py - run one of the Redis client examples against a
task-redis-server started for it.

    run-redis-example.py SERVER EXAMPLE [ARGS...]

Starts SERVER (task-redis-server) with --port 0 in a temporary directory,
reads the ephemeral port from its "Ready to accept connections tcp on
HOST:PORT" log line, runs EXAMPLE with "127.0.0.1:PORT" as its first
argument (then ARGS), stops the server, and exits with the example's
status.  Each step is bounded (the server start 15 s, the example 60 s).
Used by docs/meson.build; nothing here is specific to one example.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

READY = re.compile(rb'Ready to accept connections tcp on (\S+):(\d+)')


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    # meson passes paths relative to the build directory; the server runs
    # in a temporary directory.
    server, example = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix='rds-example-') as d:
        srv = subprocess.Popen([server, '--port', '0', '--bind', '127.0.0.1'],
                               cwd=d, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        port = None
        timer = threading.Timer(15.0, srv.kill)
        timer.start()
        try:
            for line in srv.stderr:
                m = READY.search(line)
                if m:
                    port = int(m.group(2))
                    break
        finally:
            timer.cancel()
        if port is None:
            srv.kill()
            srv.wait()
            sys.stderr.write('run-redis-example: %s did not start\n' % server)
            return 1
        # Keep draining its log so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in srv.stderr],
                         daemon=True).start()
        try:
            rc = subprocess.run([example, '127.0.0.1:%d' % port] + sys.argv[3:],
                                timeout=60).returncode
        except subprocess.TimeoutExpired:
            sys.stderr.write('run-redis-example: %s timed out\n' % example)
            rc = 1
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        return rc


if __name__ == '__main__':
    sys.exit(main())
