#!/usr/bin/env bash
#
# bootstrap.sh - the one script that installs what libtask needs, builds it,
# and runs it or tests it.  See ./bootstrap.sh --help.
#
# What it does, in order (every step is safe to repeat):
#
#  1. Installs the missing Debian packages.  It asks dpkg-query first and
#     touches apt only when something is missing: `apt-get update`, then
#     `apt-get install -y`.  Not root: it uses sudo if there is one, and
#     otherwise prints the apt command to run and fails.
#  2. Configures the build directory ./build (`meson setup`, or
#     `meson setup --reconfigure` when it already exists).
#  3. Compiles (`meson compile -C build`).
#  4. `run`: starts task-redis-server (the Redis-compatible server) in the
#     foreground; `test`: runs every test suite; `bench`: runs the runtime
#     benchmark.
#
# Its exit status is the exit status of the last step that failed.

set -euo pipefail

# Needed to build and run (redis-tools: redis-cli, to talk to the server
# that `run` starts).
RUN_PACKAGES=(build-essential meson ninja-build pkg-config
              liburing-dev libck-dev libcriterion-dev
              redis-tools)
# Needed as well by the test and CI path: Clang and its sanitizer runtimes,
# clang-format for the formatting check; and for the Redis server's tests,
# real clients (redis-py, redis-cli, hiredis) and real Redis to compare with.
TEST_PACKAGES=(clang libclang-rt-14-dev clang-format
               python3-redis redis-server redis-tools libhiredis-dev)

BUILD_DIR=build
BENCH_ARGS=(--iters 10 --warmup 2)

usage()
{
        cat <<EOF
Usage: ./bootstrap.sh run [SERVER-ARGS...]
       ./bootstrap.sh test [MESON-TEST-ARGS...]
       ./bootstrap.sh bench [BENCH-ARGS...]
       ./bootstrap.sh --help

Install the Debian packages libtask needs (only the missing ones), configure
and compile ./$BUILD_DIR with Meson, then:

  run    start the Redis-compatible server in the foreground, on
         127.0.0.1:6379 unless told otherwise (Ctrl-C stops it):
           $BUILD_DIR/redis/task-redis-server [SERVER-ARGS...]
         Arguments after 'run' go to the server (--port 6380,
         a redis.conf path, --help).
  test   run every test suite:
           meson test -C $BUILD_DIR --print-errorlogs
         Arguments after 'test' are passed on to meson test
         (for example: ./bootstrap.sh test --suite runtime).
         Also installs clang, its sanitizer runtimes, clang-format and
         the real Redis clients and server the tests compare against.
  bench  run the runtime benchmark:
           $BUILD_DIR/bench/task-bench ${BENCH_ARGS[*]}
         Arguments after 'bench' replace the default benchmark arguments.

Packages (run):  ${RUN_PACKAGES[*]}
Packages (test): the above and ${TEST_PACKAGES[*]}

Needs Debian 12 (or a close derivative) and root or sudo to install
packages.  Safe to run again: it installs nothing that is already there and
reconfigures an existing build directory.  Exits non-zero if any step fails.
EOF
}

say()
{
        printf 'bootstrap: %s\n' "$*"
}

die()
{
        printf 'bootstrap: error: %s\n' "$*" >&2
        exit 1
}

# Print a command, then run it.
run_cmd()
{
        printf '+ %s\n' "$*"
        "$@"
}

# ---- Packages -------------------------------------------------------------

package_installed()
{
        local status

        status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
        [[ $status == "install ok installed" ]]
}

install_packages()
{
        local missing=() sudo=() pkg
        # Wait for another apt or dpkg (say, unattended-upgrades on a fresh
        # machine) instead of failing at once on its lock.
        local apt_opts=(-o DPkg::Lock::Timeout=600)

        if ! command -v dpkg-query >/dev/null 2>&1; then
                say "not a Debian system: not installing packages."
                say "make sure these (or their equivalents) are installed: $*"
                return 0
        fi

        for pkg in "$@"; do
                package_installed "$pkg" || missing+=("$pkg")
        done
        if ((${#missing[@]} == 0)); then
                say "all $# packages already installed"
                return 0
        fi
        say "missing packages: ${missing[*]}"

        if ((EUID != 0)); then
                if command -v sudo >/dev/null 2>&1; then
                        sudo=(sudo)
                else
                        printf 'bootstrap: error: not root and no sudo; as root, run:\n' >&2
                        printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y %s\n' \
                               "${missing[*]}" >&2
                        exit 1
                fi
        fi

        run_cmd "${sudo[@]}" apt-get "${apt_opts[@]}" update
        run_cmd "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get "${apt_opts[@]}" install -y "${missing[@]}"

        for pkg in "${missing[@]}"; do
                package_installed "$pkg" ||
                        die "package $pkg is still not installed"
        done
}

# ---- Build ----------------------------------------------------------------

configure_and_compile()
{
        # The test suites are required, not optional: with the default
        # 'auto', a missing Criterion would silently build no tests at all.
        local opts=(-Dtests=enabled)

        if [[ -f $BUILD_DIR/meson-private/coredata.dat ]]; then
                # A directory configured by a different Meson version cannot
                # be reconfigured; start it afresh then.
                run_cmd meson setup --reconfigure "${opts[@]}" "$BUILD_DIR" ||
                        run_cmd meson setup --wipe "${opts[@]}" "$BUILD_DIR"
        else
                run_cmd meson setup "${opts[@]}" "$BUILD_DIR"
        fi
        run_cmd meson compile -C "$BUILD_DIR"
}

# ---- Main -----------------------------------------------------------------

main()
{
        local cmd=${1:-}
        local bench server

        case $cmd in
        run | test | bench)
                shift
                ;;
        -h | --help | help)
                usage
                return 0
                ;;
        "")
                usage >&2
                return 2
                ;;
        *)
                printf 'bootstrap: unknown command: %s\n\n' "$cmd" >&2
                usage >&2
                return 2
                ;;
        esac

        # Everything below is relative to the source tree.
        cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

        if [[ $cmd == test ]]; then
                install_packages "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        else
                install_packages "${RUN_PACKAGES[@]}"
        fi

        configure_and_compile

        if [[ $cmd == run ]]; then
                server=$BUILD_DIR/redis/task-redis-server
                [[ -x $server ]] || die "$server was not built"
                say "starting $server $*"
                say "try it from another terminal: redis-cli ping"
                # exec: Ctrl-C and SIGTERM reach the server itself, which
                # shuts down gracefully and exits 0.
                printf '+ %s\n' "$server $*"
                exec "$server" "$@"
        elif [[ $cmd == bench ]]; then
                bench=$BUILD_DIR/bench/task-bench
                [[ -x $bench ]] || die "$bench was not built"
                if (($# > 0)); then
                        BENCH_ARGS=("$@")
                fi
                run_cmd "$bench" "${BENCH_ARGS[@]}"
        else
                run_cmd meson test -C "$BUILD_DIR" --print-errorlogs "$@"
        fi
}

main "$@"
