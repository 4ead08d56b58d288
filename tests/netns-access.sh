#!/bin/sh
# netns-access.sh - --allow and --deny between real hosts: two network
# namespaces joined by a veth pair, IPv4 and IPv6, the server in one and
# clients with different source addresses in the other.  Needs root and
# iproute2 (skipped with the reason otherwise).  No traffic leaves the
# namespaces this test creates.
set -u
builddir=${top_builddir:-.}
server=$builddir/src/tcpchatd

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null 2>&1 || skip "needs ip (iproute2)"
command -v python3 >/dev/null 2>&1 || skip "needs python3 for the clients"
[ -x "$server" ] || { echo "FAIL: $server not built"; exit 1; }

tag=$$
ns_s=tcpchat-s-$tag
ns_c=tcpchat-c-$tag
out=$(mktemp)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	rm -f "$out"
}
trap cleanup EXIT

ip netns add "$ns_s" 2>/dev/null || skip "cannot create network namespaces here"
ip netns add "$ns_c" || exit 1
ip link add "tcs$tag" type veth peer name "tcc$tag" || skip "cannot create veth pairs here"
ip link set "tcs$tag" netns "$ns_s"
ip link set "tcc$tag" netns "$ns_c"
ip -n "$ns_s" addr add 10.231.0.1/24 dev "tcs$tag"
ip -n "$ns_s" addr add fd00:231::1/64 dev "tcs$tag" nodad
for a in 10.231.0.2/24 10.231.0.3/24; do
	ip -n "$ns_c" addr add "$a" dev "tcc$tag"
done
for a in fd00:231::2/64 fd00:231::3/64; do
	ip -n "$ns_c" addr add "$a" dev "tcc$tag" nodad
done
for ns in "$ns_s" "$ns_c"; do
	ip -n "$ns" link set lo up
done
ip -n "$ns_s" link set "tcs$tag" up
ip -n "$ns_c" link set "tcc$tag" up

# Starts tcpchatd in the server namespace with the given rules.
start() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	: >"$out"
	ip netns exec "$ns_s" "$server" -m echo -l :: -p 0 "$@" \
		</dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$out" && break
		sleep 0.05
	done
	port=$(sed -n 's/.*listening on \[::\]:\([0-9]*\) .*/\1/p' "$out")
	[ -n "$port" ] || { echo "FAIL: server did not start"; cat "$out"; exit 1; }
}

# Sends "hi" from source address $1 to $2 and prints the first reply line.
ask() {
	ip netns exec "$ns_c" python3 - "$1" "$2" "$port" <<'PY'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(5)
s.bind((src, 0))
s.connect((dst, port))
s.sendall(b"hi\n")
data = b""
try:
    while not data.endswith(b"\n"):
        chunk = s.recv(256)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
sys.stdout.write(data.decode("utf-8", "replace").rstrip("\n"))
PY
}

failed=0
expect() { # source destination expected-reply
	got=$(ask "$1" "$2")
	if [ "$got" = "$3" ]; then
		echo "ok: $1 -> $2: $got"
	else
		echo "FAIL: $1 -> $2: expected '$3', got '$got'"
		failed=1
	fi
}

denied="tcpchatd: access denied"
start --allow 10.231.0.2/32 --allow fd00:231::2/128
expect 10.231.0.2 10.231.0.1 hi
expect 10.231.0.3 10.231.0.1 "$denied"
expect fd00:231::2 fd00:231::1 hi
expect fd00:231::3 fd00:231::1 "$denied"

# Deny wins over allow; with only deny rules everyone else gets in.
start --allow 10.231.0.0/24 --deny 10.231.0.3 --deny fd00:231::2/128
expect 10.231.0.2 10.231.0.1 hi
expect 10.231.0.3 10.231.0.1 "$denied"
expect fd00:231::2 fd00:231::1 "$denied"
expect fd00:231::3 fd00:231::1 "$denied"
start --deny fd00:231::2/128
expect fd00:231::3 fd00:231::1 hi
expect 10.231.0.3 10.231.0.1 hi
exit "$failed"
