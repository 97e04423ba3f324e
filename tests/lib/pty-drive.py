#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, as a person at a terminal would.

usage: pty-drive.py [--timeout SECONDS] -- COMMAND [ARG...]

The script comes on standard input, one step a line:
    expect REGEX     wait until the output since the last match matches REGEX
    send TEXT        type TEXT and Enter
    nocmdline TEXT   the command's /proc/PID/cmdline must not contain TEXT
    nops TEXT        no process's command line may contain TEXT
Secrets typed with "send" never appear in this program's arguments.

The whole transcript goes to standard output; the exit status is the
command's. A step that times out or fails kills the command and exits 125.
"""
import os
import pty
import re
import select
import signal
import sys
import time


def main():
    args = sys.argv[1:]
    timeout = 20.0
    if args[:1] == ["--timeout"]:
        timeout = float(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    steps = [line.rstrip("\n").split(" ", 1) for line in sys.stdin if line.strip()]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(args[0], args)

    transcript = b""
    seen = 0
    eof = False

    def read_some(deadline):
        nonlocal transcript, eof
        left = deadline - time.monotonic()
        if left <= 0 or eof:
            return False
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                eof = True
            transcript += chunk
        return True

    def give_up(why):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.stdout.write(transcript.decode(errors="replace"))
        sys.stderr.write("pty-drive: %s\n" % why)
        sys.exit(125)

    for step in steps:
        verb, arg = step[0], step[1] if len(step) > 1 else ""
        if verb == "expect":
            deadline = time.monotonic() + timeout
            pattern = re.compile(arg.encode())
            while True:
                m = pattern.search(transcript, seen)
                if m:
                    seen = m.end()
                    break
                if not read_some(deadline):
                    give_up("timed out waiting for /%s/" % arg)
        elif verb == "send":
            os.write(fd, arg.encode() + b"\n")
        elif verb == "nocmdline":
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if arg.encode() in f.read():
                    give_up("the command line shows a secret")
        elif verb == "nops":
            for entry in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        shown = f.read()
                except OSError:
                    continue
                if arg.encode() in shown:
                    give_up("process %s shows a secret on its command line" % entry)
        else:
            give_up("unknown step %s" % verb)

    deadline = time.monotonic() + timeout
    while not eof:
        if not read_some(deadline):
            give_up("timed out waiting for the command to finish")
    end = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > end:
            give_up("the command did not exit")
        time.sleep(0.05)
    sys.stdout.write(transcript.decode(errors="replace"))
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 125)


main()
