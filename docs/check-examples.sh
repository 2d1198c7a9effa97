#!/bin/sh
# check-examples.sh - keep the examples in docs/runtime.md, sync.md, io.md
# and redis-client.md and the files in docs/examples/ identical.
#
# In those pages an example is a line `<!-- example: NAME.c -->` followed by
# a ```c fenced block; the block must be byte-for-byte docs/examples/NAME.c.
# Every docs/examples/*.c must be shown exactly once, in one of the pages.
#
# Usage: check-examples.sh [--fix] [DOCS_DIR]
#   DOCS_DIR defaults to the directory of this script.
#   --fix rewrites the blocks in the pages from the files (the files win).
# Exit status: 0 when in sync (or fixed), 1 otherwise.  Run by
# `meson test --suite docs` as the test "examples-in-sync".
set -eu

fix=0
if [ "${1:-}" = "--fix" ]; then
        fix=1
        shift
fi
dir=${1:-$(dirname "$0")}
ex=$dir/examples
pages="runtime.md sync.md io.md redis-client.md"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Split each page: each marked block goes to $tmp/shown/NAME.c; with --fix,
# $tmp/PAGE gets the page with every marked block replaced by its file.
mkdir "$tmp/shown"
for page in $pages; do
md=$dir/$page
[ -f "$md" ] || continue
awk -v shown="$tmp/shown" -v ex="$ex" -v newmd="$tmp/$page" -v page="$page" '
function fail(msg) { printf "%s:%d: %s\n", page, NR, msg > "/dev/stderr"; bad = 1 }
{
        if (state == "block") {
                if ($0 == "```") {
                        state = ""
                        close(out)
                        print > newmd
                } else {
                        print > out
                }
                next
        }
        if (state == "marker") {
                if ($0 == "```c") {
                        state = "block"
                        out = shown "/" name
                        if ((name in seen) || system("test -e \"" out "\"") == 0)
                                fail(name " is shown twice")
                        seen[name] = 1
                        printf "" > out
                        print > newmd
                        src = ex "/" name
                        while ((getline line < src) > 0)
                                print line > newmd
                        close(src)
                        next
                }
                fail("marker for " name " is not followed by a ```c block")
                state = ""
        }
        if ($0 ~ /^<!-- example: [A-Za-z0-9_.-]+\.c -->$/) {
                name = $3
                state = "marker"
        }
        if (state != "block")
                print > newmd
}
END {
        if (state == "block")
                fail("unterminated block for " name)
        if (state == "marker")
                fail("marker for " name " is not followed by a ```c block")
        exit bad
}' "$md" || exit 1
done

status=0
for f in "$ex"/*.c; do
        n=$(basename "$f")
        if [ ! -f "$tmp/shown/$n" ]; then
                echo "examples/$n: not shown in any page (add <!-- example: $n -->)" >&2
                status=1
        elif ! cmp -s "$f" "$tmp/shown/$n"; then
                if [ $fix = 0 ]; then
                        echo "examples/$n: differs from its block in the docs:" >&2
                        diff -u "$f" "$tmp/shown/$n" >&2 || true
                        status=1
                fi
        fi
done
for s in "$tmp/shown"/*.c; do
        [ -e "$s" ] || continue
        n=$(basename "$s")
        if [ ! -f "$ex/$n" ]; then
                echo "the docs show $n, but examples/$n does not exist" >&2
                status=1
        fi
done

if [ $fix = 1 ] && [ $status = 0 ]; then
        for page in $pages; do
                [ -f "$tmp/$page" ] || continue
                if ! cmp -s "$dir/$page" "$tmp/$page"; then
                        cp "$tmp/$page" "$dir/$page"
                        echo "$page: examples updated from examples/" >&2
                fi
        done
fi
exit $status
