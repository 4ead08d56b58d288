#!/bin/sh
# manlint.sh - the man pages lint clean: "mandoc -Tlint" and
# "groff -ww -z -man" print nothing for each of doc/*.1, and each has
# the sections a user looks for (DESCRIPTION, OPTIONS, EXIT STATUS,
# SIGNALS, EXAMPLES, SEE ALSO naming at least one of nc(1), ncat(1) and
# socat(1)).  Each page is reported on its own line, with what the tools
# said, so a failure names its page.  Skips (77) with the reason when neither tool is installed
# (./bootstrap installs both: apt-get install -y mandoc groff); runs what
# there is when only one is.
set -u
top_srcdir=${top_srcdir:-.}
out=$(mktemp) || exit 99
trap 'rm -f "$out"' EXIT
failed=0
tools=

command -v mandoc >/dev/null 2>&1 && tools="$tools mandoc"
command -v groff >/dev/null 2>&1 && tools="$tools groff"
if [ -z "$tools" ]; then
	echo "SKIP: neither mandoc nor groff is installed (apt-get install -y mandoc groff)"
	exit 77
fi
for tool in mandoc groff; do
	case $tools in
	*"$tool"*) ;;
	*) echo "note: $tool is not installed: its check is skipped" ;;
	esac
done

for page in "$top_srcdir"/doc/*.1; do
	name=${page##*/}
	: >"$out"
	case $tools in
	*mandoc*) mandoc -Tlint "$page" >>"$out" 2>&1 ;;
	esac
	case $tools in
	*groff*) groff -ww -z -man "$page" >>"$out" 2>&1 ;;
	esac
	for section in DESCRIPTION OPTIONS "EXIT STATUS" SIGNALS EXAMPLES \
	    "SEE ALSO"; do
		grep -Eq "^\.SH \"?$section\"?\$" "$page" ||
			echo "no $section section" >>"$out"
	done
	sed -n '/^\.SH "\{0,1\}SEE ALSO/,/^\.SH/p' "$page" |
		grep -Eq '^\.BR (nc|ncat|socat) \(1\)' ||
		echo "SEE ALSO names none of nc(1), ncat(1), socat(1)" >>"$out"
	if [ -s "$out" ]; then
		lines=$(wc -l <"$out")
		echo "FAIL: $name:"
		head -n 12 "$out" | sed 's/^/    /'
		[ "$lines" -le 12 ] || echo "    ... and $((lines - 12)) more lines"
		failed=$((failed + 1))
	else
		echo "PASS: $name: lint clean (${tools# }), sections complete"
	fi
done
[ "$failed" -eq 0 ]
