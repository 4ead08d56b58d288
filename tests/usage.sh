#!/bin/sh
# usage.sh - the one usage-error format of tcpchatd, tcpchat and
# tcpchat-bench, on the real programs started by their path: for a bad
# option, a bad port and too many arguments each program must exit 2,
# print nothing on standard output, and print exactly two lines on
# standard error:
#
#   PROG: MESSAGE NAMING THE BAD VALUE
#   Try 'PROG --help'.
#
# with PROG the program's name, never the path it was started by.
# --help (exit 0, "usage: PROG" first) and --version (the GNU format:
# name and version, copyright, license, no warranty) are checked too.
# Each program is reported on its own lines, so a failure names it.
set -u
top_builddir=${top_builddir:-.}
bin=$top_builddir/src
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
checks=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# Runs PROG ARGS... (bounded: a program that tries to connect must not
# hang the suite); leaves the status in $status.
run() {
	prog=$1
	shift
	timeout 20 "$bin/$prog" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
}

# usage_error PROG BAD-VALUE ARGS...: a usage error that names BAD-VALUE.
usage_error() {
	prog=$1
	bad=$2
	shift 2
	checks=$((checks + 1))
	run "$prog" "$@"
	what="$prog $*"
	if [ "$status" -ne 2 ]; then
		fail "$what: exit status $status, not 2: $(head -n 2 "$tmp/err")"
		return
	fi
	if [ -s "$tmp/out" ]; then
		fail "$what: wrote to standard output: $(head -n 1 "$tmp/out")"
		return
	fi
	lines=$(wc -l <"$tmp/err")
	first=$(sed -n 1p "$tmp/err")
	second=$(sed -n 2p "$tmp/err")
	if [ "$lines" -ne 2 ]; then
		fail "$what: $lines lines on standard error, not 2: $(head -n 3 "$tmp/err" | tr '\n' '|')"
		return
	fi
	case $first in
	"$prog: "*) ;;
	*) fail "$what: first line not prefixed '$prog: ': $first"; return ;;
	esac
	case $first in
	*"$bad"*) ;;
	*) fail "$what: first line does not name '$bad': $first"; return ;;
	esac
	if [ "$second" != "Try '$prog --help'." ]; then
		fail "$what: second line is not \"Try '$prog --help'.\": $second"
		return
	fi
	echo "ok: $what -> $first"
}

# help_and_version PROG: --help and --version as the GNU standards say.
help_and_version() {
	prog=$1
	checks=$((checks + 1))
	run "$prog" --help
	if [ "$status" -ne 0 ] || ! head -n 1 "$tmp/out" | grep -q "^usage: $prog "; then
		fail "$prog --help: status $status, first line: $(head -n 1 "$tmp/out")"
	else
		echo "ok: $prog --help"
	fi
	checks=$((checks + 1))
	run "$prog" --version
	v=$tmp/out
	if [ "$status" -ne 0 ]; then
		fail "$prog --version: status $status"
	elif ! sed -n 1p "$v" | grep -Eq "^$prog \(tcpchat\) [0-9]+\.[0-9]+"; then
		fail "$prog --version: first line: $(sed -n 1p "$v")"
	elif ! grep -q '^Copyright (C) [0-9]' "$v"; then
		fail "$prog --version: no copyright line"
	elif ! grep -Eq '^License (MIT|GPLv3\+)' "$v"; then
		fail "$prog --version: no license line"
	elif ! grep -q 'NO WARRANTY' "$v"; then
		fail "$prog --version: no warranty line"
	else
		echo "ok: $prog --version"
	fi
}

# --- tcpchatd: no operands; -l ADDR[:PORT], -p PORT.
usage_error tcpchatd --no-such-option --no-such-option
usage_error tcpchatd -x -x
usage_error tcpchatd 99999 -p 99999
usage_error tcpchatd abc -p abc
usage_error tcpchatd abc -l 127.0.0.1:abc
usage_error tcpchatd extra -p 0 extra
usage_error tcpchatd 5x --idle-timeout 5x
help_and_version tcpchatd

# --- tcpchat and tcpchat-bench: [HOST[:PORT] | HOST PORT].
for prog in tcpchat tcpchat-bench; do
	usage_error "$prog" --no-such-option --no-such-option
	usage_error "$prog" 99999 127.0.0.1 99999
	usage_error "$prog" 99999 127.0.0.1:99999
	usage_error "$prog" 0 127.0.0.1:0
	usage_error "$prog" abc 127.0.0.1 abc
	usage_error "$prog" c a b c
	help_and_version "$prog"
done

echo "usage.sh: $checks checks, $failed failed"
[ "$failed" -eq 0 ]
