#!/bin/sh
# symbols.sh - every global that the internal libraries define is named
# for its module (MODULE_ or MODULE itself), and none is also defined by
# a shared library tcpchatd links: a module called history once defined
# history_init, which libedit's own rl_initialize then called instead of
# its own and overran the heap.  Names beginning with __ are the
# compiler's (a sanitizer's __odr_asan.*), not ours.  Run from the build
# directory.
libs="src/libcommon.a src/libserver.a src/libclient.a src/libbench.a"
for l in $libs; do
	[ -f "$l" ] || { echo "symbols: $l not built"; exit 99; }
done
command -v nm >/dev/null 2>&1 || { echo "symbols: no nm"; exit 77; }
ours=$(mktemp) || exit 99
theirs=$(mktemp) || exit 99
trap 'rm -f "$ours" "$theirs"' EXIT
for l in $libs; do
	nm -g --defined-only "$l" | awk '/:$/ { obj = $1; next }
	    NF == 3 && $2 ~ /[A-Z]/ && $3 !~ /^__/ { print obj, $3 }'
done | sort -u -k2 >"$ours"
bad=$(awk '{ m = $1; sub(/^lib[a-z]+_a-/, "", m); sub(/\.o:$/, "", m)
    gsub(/-/, "_", m)
    if ($2 != m && index($2, m "_") != 1) print "  " $1 " defines " $2 }' "$ours")
if [ -n "$bad" ]; then
	echo "symbols: globals not named for their module:"
	echo "$bad"
	exit 1
fi
# The shared libraries tcpchatd links (libedit or readline among them).
for so in $(ldd src/tcpchatd 2>/dev/null | awk '$3 ~ /^\// { print $3 }'); do
	nm -D --defined-only "$so" 2>/dev/null | awk 'NF == 3 { print $3 }'
done | sort -u >"$theirs"
clash=$(awk '{ print $2 }' "$ours" | sort -u | comm -12 - "$theirs")
if [ -n "$clash" ]; then
	echo "symbols: defined here and by a linked shared library:"
	echo "$clash" | sed 's/^/  /'
	exit 1
fi
echo "symbols: $(wc -l <"$ours") globals, each named for its module, none shared with $(ldd src/tcpchatd | grep -c '=>') linked libraries"
