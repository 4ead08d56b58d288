#!/usr/bin/env bash
# examples.sh - runs every example of the README and of the man pages
# against real servers and checks the output they show, so that no
# example can go stale.  Each file is reported on its own lines.
#
# The convention (doc/design.md, "Examples", says the same):
#
# - An example is a literal block: in the README, lines indented by four
#   spaces or more after a blank line; in a man page, the lines between
#   .nf and .fi (or .EX and .EE), as the page renders them.
# - In a block, a line that starts with "$ " is a command, run by bash
#   in a fresh directory with the built programs first in PATH (and
#   ./src pointing at them).  A command ending in "\" goes on on the
#   next line.  Each command runs in a shell of its own: files persist
#   from one command to the next, shell variables do not.
# - The lines after a command, up to the next command, are its expected
#   output: standard output and standard error as they interleave,
#   compared line by line (trailing blanks and blank lines at the end
#   ignored).  "..." inside a line matches any text; a line of "..."
#   alone matches any number of lines.
# - A command ending in "&" runs in the background and is stopped when
#   the block ends.  Its expected lines are waited for (bounded) and
#   compared with the first lines it prints; that is how an example says
#   that a server is ready before the next command runs.
# - Ports: 7000 is the example server's port and 7001 a port where
#   nothing listens.  A background "tcpchatd ... -p 7000 ... &" is run
#   with -p 0; its real port, read from its first line, replaces 7000 in
#   every later command and expected line.  A block that uses 7000
#   without starting such a tcpchatd gets "tcpchatd -m echo -q -p 0" for
#   the time it runs.  Never use the default port 9999 in a runnable
#   example: a real server may be listening there.
# - An example that cannot run here (it needs the LAN, TLS files, the
#   tutorial's Python servers, a person at a terminal) says so in a
#   comment on its first command, starting with "# needs":
#       $ tcpchatd -l :: -p 8888 -m room    # needs the LAN
#   The block is then shown as skipped, with the reason.  A block with
#   a command using a --tls option is skipped the same way when the
#   build has no TLS.
# - A block without a "$ " line is not run: a synopsis, a build step
#   (./bootstrap, ./configure ...), output shown on its own.  One that
#   starts with one of our programs and is no synopsis (no "[") is an
#   error: an example that lost its prompt.
#
# Exits 0 when every block ran as shown, 1 otherwise; 77 (skip) without
# mandoc or groff only for the man pages, which are then not checked.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
srcdir=$(cd "$top_srcdir" && pwd) || exit 99
bindir=$(cd "$top_builddir/src" && pwd) || exit 99
mult=${CK_TIMEOUT_MULTIPLIER:-1}
mult=${mult%%.*}
[ "$mult" -ge 1 ] 2>/dev/null || mult=1
cmd_timeout=$((30 * mult)) # seconds a foreground command may take
wait_tenths=$((300 * mult)) # tenths of a second to wait for a line
export LC_ALL=C.UTF-8

# In a network namespace of its own when the system allows it (root, or
# unprivileged user namespaces): nothing an example does can then reach
# another program's server (a real tcpchatd on port 9999, say), and no
# traffic can leave the machine.
if [ -z "${EXAMPLES_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 &&
    command -v ip >/dev/null 2>&1; then
	for opt in -n -rn; do
		if unshare "$opt" -- ip link set lo up 2>/dev/null; then
			export EXAMPLES_NETNS=1
			exec unshare "$opt" -- bash -c \
				'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
		fi
	done
fi
if [ -n "${EXAMPLES_NETNS:-}" ]; then
	echo "examples.sh: in a network namespace of its own"
else
	echo "examples.sh: no network namespace available: examples share the host's loopback"
fi

# A block that uses --tls (or --tls-cert) runs only where the build has
# TLS; elsewhere it is shown as skipped.
have_tls=0
grep -q '^#define HAVE_TLS 1' "$top_builddir/config.h" 2>/dev/null && have_tls=1

work=$(mktemp -d) || exit 99
bg_pids=()

# Stops every background process group this script started, then waits
# for them, bounded; what survives SIGTERM gets SIGKILL.
stop_background() {
	local pid i
	for pid in "${bg_pids[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null
	done
	for pid in "${bg_pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 -- "-$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	bg_pids=()
}
trap 'stop_background; rm -rf "$work"' EXIT
trap 'exit 2' INT TERM

failed=0
ran=0
blocks=0
skipped=0

# Waits until file $1 has at least $2 lines (bounded).  0 if it has.
wait_lines() {
	local i
	for ((i = 0; i < wait_tenths; i++)); do
		[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# Starts the shell command $2 in directory $3 (default: the work
# directory), in a process group of its own, with the built programs
# first in PATH and its output in file $1.  Sets $pid.
start_background() {
	(cd "${3:-$work}" && PATH=$bindir:$PATH exec setsid bash -c "$2") \
		</dev/null >"$1" 2>&1 &
	pid=$!
	bg_pids+=("$pid")
}

# Starts the tcpchatd command $2 (with -p 0) as start_background does
# and reads its port from its first line into $port.  0, or 1 when it
# printed no listening line in time.
start_server() {
	start_background "$1" "$2" "${3:-}"
	port=
	wait_lines "$1" 1 || return 1
	port=$(sed -n '1s/^tcpchatd: listening on .*:\([0-9][0-9]*\) (mode .*/\1/p' "$1")
	[ -n "$port" ]
}

# Whether the actual lines (file $2) match the expected ones (file $1).
# Prints the first difference when they do not.
match() {
	awk -v want="$1" -v got="$2" '
	function rtrim(s) { sub(/[ \t\r]+$/, "", s); return s }
	function read(file, arr,   n, line) {
		n = 0
		while ((getline line < file) > 0) arr[++n] = rtrim(line)
		while (n > 0 && arr[n] == "") n--
		return n
	}
	# Whether line l matches pattern p, in which "..." is any text.
	function linematch(p, l,   parts, k, i, pos) {
		if (index(p, "...") == 0) return p == l
		k = split(p, parts, /\.\.\./)
		if (substr(l, 1, length(parts[1])) != parts[1]) return 0
		l = substr(l, length(parts[1]) + 1)
		for (i = 2; i < k; i++) {
			pos = index(l, parts[i])
			if (parts[i] != "" && pos == 0) return 0
			if (parts[i] != "") l = substr(l, pos + length(parts[i]))
		}
		return k == 1 || length(l) >= length(parts[k]) &&
		    substr(l, length(l) - length(parts[k]) + 1) == parts[k]
	}
	function m(i, j,   k) {
		if (i > nw) return j > ng
		if (w[i] == "...") {
			for (k = j; k <= ng + 1; k++) if (m(i + 1, k)) return 1
			return 0
		}
		if (j > ng || !linematch(w[i], g[j])) {
			if (i > besti || (i == besti && j > bestj)) {
				besti = i; bestj = j
			}
			return 0
		}
		return m(i + 1, j + 1)
	}
	BEGIN {
		nw = read(want, w); ng = read(got, g)
		besti = 0
		if (m(1, 1)) exit 0
		if (besti == 0) { besti = 1; bestj = 1 }
		if (nw == 0) {
			printf "    expected no output, got: %s\n", g[1]
			exit 1
		}
		printf "    expected line %d: %s\n", besti, w[besti]
		printf "    got line %d:      %s\n", bestj, (bestj <= ng ? g[bestj] : "(end of output)")
		exit 1
	}'
}

# Replaces the example ports with the real ones in stdin.
ports() {
	sed -e "s/\\b7000\\b/${port7000:-7000}/g" -e "s/\\b7001\\b/${port7001:-7001}/g"
}

# A port where nothing listens: one a server had and gave up.  Sets
# $port7001.
closed_port() {
	start_server "$work/closed.out" "tcpchatd -m echo -q -l 127.0.0.1 -p 0" ||
		return 1
	port7001=$port
	stop_background
}

# Runs one block: $1 the file of its lines, $2 where it is from.
# Returns 0 (passed), 1 (failed) or 2 (skipped).
run_block() {
	local block=$1 where=$2 dir line cmd n i status
	local -a cmds=() outs=()
	n=-1
	cmd=
	while IFS= read -r line || [ -n "$line" ]; do
		if [ -n "$cmd" ]; then
			# A continuation of the command before.
			cmds[n]+=$'\n'$line
			case $line in *\\) ;; *) cmd= ;; esac
			continue
		fi
		case $line in
		'$ '*)
			n=$((n + 1))
			cmds[n]=${line#\$ }
			outs[n]=
			case $line in *\\) cmd=1 ;; esac
			;;
		*)
			if [ "$n" -lt 0 ]; then
				[ -z "$line" ] && continue
				echo "FAIL: $where: output before the first command: $line"
				return 1
			fi
			outs[n]+=$line$'\n'
			;;
		esac
	done <"$block"
	for ((i = 0; i <= n; i++)); do
		case ${cmds[i]} in
		*'# needs'*)
			echo "SKIP: $where: ${cmds[i]##*# }"
			return 2
			;;
		*--tls*)
			if [ "$have_tls" = 0 ]; then
				echo "SKIP: $where: this build has no TLS"
				return 2
			fi
			;;
		esac
	done

	dir=$work/run
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	ln -s "$bindir" "$dir/src"
	port7000=
	port7001=
	local starts_server=0 uses_7000=0 uses_7001=0
	for ((i = 0; i <= n; i++)); do
		[[ ${cmds[i]} =~ ^tcpchatd\ .*-p\ 7000\ .*\&$|^tcpchatd\ .*-p\ 7000\&?$ ]] && starts_server=1
		[[ ${cmds[i]}${outs[i]} =~ (^|[^0-9])7000([^0-9]|$) ]] && uses_7000=1
		[[ ${cmds[i]}${outs[i]} =~ (^|[^0-9])7001([^0-9]|$) ]] && uses_7001=1
	done
	if [ $uses_7001 = 1 ] && ! closed_port; then
		echo "FAIL: $where: no server started to find a closed port"
		return 1
	fi
	if [ $uses_7000 = 1 ] && [ $starts_server = 0 ]; then
		if ! start_server "$work/default.out" \
		    "tcpchatd -m echo -q -l 127.0.0.1 -p 0"; then
			echo "FAIL: $where: the example server did not start"
			return 1
		fi
		port7000=$port
	fi

	# Files of their own: a process of an earlier block that outlived
	# its stop must not write into this block's output.
	blocks=$((blocks + 1))
	local rc=0 want=$work/want.$blocks got=$work/got.$blocks diff
	for ((i = 0; i <= n; i++)); do
		cmd=${cmds[i]}
		if [[ $cmd =~ \&[[:space:]]*$ ]]; then
			cmd=${cmd%&*}
			if [[ $cmd =~ ^tcpchatd\  ]] && [[ $cmd =~ -p\ 7000 ]]; then
				cmd=${cmd/-p 7000/-p 0}
				if ! start_server "$got.$i" "$(printf '%s' "$cmd" | ports)" "$dir"; then
					echo "FAIL: $where: \$ ${cmds[i]}: no listening line"
					cat -v "$got.$i" | sed 's/^/    /'
					rc=1
					break
				fi
				port7000=$port
			else
				start_background "$got.$i" "$(printf '%s' "$cmd" | ports)" "$dir"
			fi
			printf '%s' "${outs[i]}" | ports >"$want"
			if [ -s "$want" ]; then
				wait_lines "$got.$i" "$(grep -c '' "$want")"
				head -n "$(grep -c '' "$want")" "$got.$i" >"$got"
				if ! diff=$(match "$want" "$got"); then
					echo "FAIL: $where: \$ ${cmds[i]}"
					echo "$diff"
					rc=1
					break
				fi
			fi
			continue
		fi
		cmd=$(printf '%s' "$cmd" | ports)
		(cd "$dir" && PATH=$bindir:$PATH timeout -k 5 "$cmd_timeout" bash -c "$cmd") </dev/null >"$got" 2>&1
		status=$?
		if [ $status -eq 124 ] || [ $status -eq 137 ]; then
			echo "FAIL: $where: \$ ${cmds[i]}: still running after $cmd_timeout s"
			rc=1
			break
		fi
		printf '%s' "${outs[i]}" | ports >"$want"
		if ! diff=$(match "$want" "$got"); then
			echo "FAIL: $where: \$ ${cmds[i]}"
			echo "$diff"
			rc=1
			break
		fi
	done
	stop_background
	return $rc
}

# Reports a block's result and counts it.
count() {
	case $1 in
	0) ran=$((ran + 1)) ;;
	2) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
}

# Whether a block without a prompt looks like an example that lost it.
lost_prompt() {
	local first
	first=$(grep -m 1 -v '^[[:space:]]*$' "$1")
	[[ $first =~ ^(tcpchatd|tcpchat|tcpchat-bench|printf|echo|python3)([[:space:]]|$) ]] &&
		! grep -q '\[' "$1"
}

# Splits $2 (text, one block after each "@@BLOCK <where>" line, ended by
# "@@END") into files and runs them; $1 names the document.
run_blocks() {
	local doc=$1 text=$2 where f rc before=$failed
	local n=0
	rm -rf "$work/blocks" && mkdir -p "$work/blocks"
	awk -v dir="$work/blocks" '
		/^@@BLOCK / { n++; f = sprintf("%s/%04d", dir, n)
		              print substr($0, 9) > (f ".where"); close(f ".where"); next }
		/^@@END$/ { close(f); f = ""; next }
		f != "" { print > f }' "$text"
	for f in "$work"/blocks/[0-9][0-9][0-9][0-9]; do
		[ -e "$f" ] || continue
		where="$doc $(cat "$f.where")"
		# Strip the common indentation.
		local ind
		ind=$(awk 'NF { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH }
			END { print min + 0 }' "$f")
		sed -i "s/^ \{0,$ind\}//" "$f"
		if ! grep -q '^\$ ' "$f"; then
			if lost_prompt "$f"; then
				echo "FAIL: $where: an example without a '\$ ' prompt: $(head -n 1 "$f")"
				count 1
			fi
			continue
		fi
		run_block "$f" "$where"
		rc=$?
		[ $rc -eq 0 ] && echo "ok: $where: $(grep -m 1 '^\$ ' "$f")"
		count $rc
	done
	if [ "$failed" -eq "$before" ]; then
		echo "PASS: $doc"
	else
		echo "FAIL: $doc: $((failed - before)) example(s) failed"
	fi
}

# The README's literal blocks, each marked with its line number.
readme_blocks() {
	awk '
	/^    / {
		if (!open && blank) { print "@@BLOCK line " NR; open = 1 }
		if (open) { print; blank = 0; next }
	}
	/^[ \t]*$/ { if (open) print ""; blank = 1; next }
	{ if (open) { print "@@END"; open = 0 }; blank = 0 }
	END { if (open) print "@@END" }' "$1"
}

# A man page's literal blocks as it renders: .nf/.fi (and .EX/.EE)
# regions, marked, rendered with mandoc (or groff) and overstriking
# removed.  The marker names the section the block is in.
man_blocks() {
	local page=$1 marked=$work/marked.1
	awk '
	/^\.SH / { sec = substr($0, 5); gsub(/"/, "", sec); n = 0 }
	/^\.(nf|EX)([ \t]|$)/ { print; n++; print "@@BLOCK " sec " block " n; next }
	/^\.(fi|EE)([ \t]|$)/ { print "@@END"; print; next }
	{ print }' "$page" >"$marked"
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tutf8 -Owidth=250 "$marked"
	else
		groff -Tutf8 -man -rLL=250n -P-c "$marked" 2>/dev/null
	fi | sed -e 's/.\x08//g' | sed -e 's/^ *@@/@@/'
}

readme_blocks "$srcdir/README" >"$work/readme.txt"
run_blocks README "$work/readme.txt"
man_skipped=0
if command -v mandoc >/dev/null 2>&1 || command -v groff >/dev/null 2>&1; then
	for page in "$srcdir"/doc/*.1; do
		man_blocks "$page" >"$work/man.txt"
		run_blocks "doc/${page##*/}" "$work/man.txt"
	done
else
	echo "SKIP: the man pages: neither mandoc nor groff is installed (apt-get install -y mandoc)"
	man_skipped=1
fi

echo "examples.sh: $ran ran as shown, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ] || exit 1
[ "$man_skipped" -eq 0 ] || exit 77
exit 0
