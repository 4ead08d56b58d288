#!/bin/sh
# layering.sh - the module graph of src/ has no include cycle, and the
# common library includes nothing from the server, the client or the
# bench.  A module is NAME.c with NAME.h; "A includes B" when either file
# of A includes B.h.  Prints the graph's edges on failure.
srcdir=${top_srcdir:-.}/src
common="args clock escape framing io lineedit net password telnet tls transport version"
python3 - "$srcdir" "$common" <<'PY'
import os, re, sys
src, common = sys.argv[1], set(sys.argv[2].split())
mods = {}
for f in sorted(os.listdir(src)):
    m = re.match(r'(.+)\.[ch]$', f)
    if not m:
        continue
    name = m.group(1)
    deps = mods.setdefault(name, set())
    for line in open(os.path.join(src, f), encoding='utf-8'):
        inc = re.match(r'\s*#\s*include\s+"([^"]+)\.h"', line)
        if inc and inc.group(1) != name and inc.group(1) != 'config':
            deps.add(inc.group(1))
bad = 0
for name in sorted(common & set(mods)):
    for d in sorted(mods[name] - common):
        print(f"layering: common module {name} includes {d}.h")
        bad = 1
# Depth-first search for a cycle.
state, stack = {}, []
def visit(n):
    global bad
    state[n] = 1
    stack.append(n)
    for d in sorted(mods.get(n, ())):
        if state.get(d) == 1:
            print("layering: include cycle: " +
                  " -> ".join(stack[stack.index(d):] + [d]))
            bad = 1
        elif d not in state:
            visit(d)
    stack.pop()
    state[n] = 2
for n in sorted(mods):
    if n not in state:
        visit(n)
if bad:
    for n in sorted(mods):
        print(f"  {n}: {' '.join(sorted(mods[n]))}")
    sys.exit(1)
print(f"layering: {len(mods)} modules, no include cycle, common code self-contained")
PY
