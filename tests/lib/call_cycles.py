#!/usr/bin/env python3
"""Prints the call circles among the object files given (one per source file):
a file that calls into a file that, directly or through others, calls back
into it. No output and exit 0 when there are none. "-g NAME" counts the files
NAME.o and NAME_*.o as one (a driver's files form one room and may call
each other)."""
import os
import subprocess
import sys


def symbols(obj):
    defined, undefined = set(), set()
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def unit(obj, groups):
    name = os.path.basename(obj)[:-2]
    for g in groups:
        if name == g or name.startswith(g + "_"):
            return g
    return name


def main(args):
    groups, objs = [], []
    while args:
        if args[0] == "-g":
            groups.append(args[1])
            args = args[2:]
        else:
            objs.append(args.pop(0))
    owner, calls = {}, {}
    for obj in objs:
        name = unit(obj, groups)
        defined, undefined = symbols(obj)
        calls.setdefault(name, set()).update(undefined)
        for sym in defined:
            owner[sym] = name
    graph = {n: {owner[s] for s in calls[n] if s in owner and owner[s] != n} for n in calls}
    state, path, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    for c in circles:
        print(" -> ".join(c))
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
