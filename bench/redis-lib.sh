# bench/redis-lib.sh - what compare-redis.sh and compare-loadgen.sh share:
# stopping a process, a free port, starting Debian's redis-server.  Sourced,
# not run.  The caller sets $work (a temporary directory: Redis's working
# directory and log) and $out (the file `say` appends to), and declares
# redis_pid and redis_port, which start_redis sets.

stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
  local p=$1
  [[ -n $p ]] || return 0
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

say() { echo "$*" | tee -a "$out"; }

# A port the kernel says is free now (Redis cannot be asked to pick one).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# redis-server without persistence, one I/O thread, on a free port.
start_redis() {
  local port
  for _ in 1 2 3 4 5; do # the port may be taken before Redis binds it
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --io-threads 1 --daemonize no --dir "$work" >"$work/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do
      kill -0 "$redis_pid" 2>/dev/null || break
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        redis_port=$port
        return 0
      fi
      sleep 0.1
    done
    stop_pid "$redis_pid"; redis_pid=
  done
  echo "${0##*/}: redis-server did not start:" >&2
  cat "$work/redis.log" >&2
  exit 1
}
