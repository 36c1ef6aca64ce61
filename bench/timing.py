# SPDX-License-Identifier: GPL-2.0
"""Timing one command for the benchmarks: wall time from a monotonic clock around the
run (GNU time's %e has 10 ms steps, a fifth of a 50 ms run), peak RSS from GNU time."""
import subprocess
import tempfile
import time


def timed(cmd, stdin="", timeout=900):
    """Runs cmd under /usr/bin/time; returns (stdout, stderr, wall s, peak RSS MB, exit).
    The wall time includes starting /usr/bin/time itself, the same for every tool."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        try:
            p = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M", *map(str, cmd)], input=stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                               errors="replace")
        except subprocess.TimeoutExpired:
            return "", "timed out", float(timeout), 0.0, -1
        wall = time.perf_counter() - t0
        parts = (tf.read().strip().splitlines() or ["0"])[-1].split()
    try:
        rss = int(parts[0]) / 1024
    except (ValueError, IndexError):
        rss = 0.0
    return p.stdout, p.stderr, wall, rss, p.returncode
