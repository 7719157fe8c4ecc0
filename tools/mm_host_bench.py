#!/usr/bin/env python3
"""mm_host_bench.py — drive the memory manager's host benchmark (make mm-host-bench).

For each manager and number of live allocations, run tests/host/mm_bench.c's
pair loop once under callgrind, counting only the loop's own function, and
print instructions per alloc+free pair; without valgrind, print wall-clock
nanoseconds instead. Then run the fragmentation workload. docs/mm.md keeps
the figures.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LIVE = (1, 1000, 10000)
# The first-fit list walks every allocation twice per pair: fewer iterations.
IMPLS = (("mm", 20000), ("mm-caps", 20000), ("mm-holes", 20000), ("firstfit", 500))


def callgrind_instructions(binary, impl, live, iters):
    """Instructions executed inside loop_<impl>, from one callgrind run."""
    func = "loop_" + impl.replace("-", "_")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                        "--toggle-collect=" + func, "--callgrind-out-file=" + out,
                        binary, "pairs", impl, str(live), str(iters)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                m = re.match(r"(summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(2))
    raise RuntimeError("no totals in callgrind output for " + impl)


def wall_ns(binary, impl, live, iters):
    out = subprocess.run([binary, "pairs", impl, str(live), str(iters * 20)], check=True,
                         capture_output=True, text=True).stdout
    return float(re.search(r"ns_per_pair=([\d.]+)", out).group(1))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mm_host_bench.py <mm-bench binary>")
    binary = sys.argv[1]
    have_valgrind = shutil.which("valgrind") is not None
    unit = "instructions" if have_valgrind else "ns (no valgrind: wall clock)"
    print("alloc+free of 4 KiB, %s per pair (host, x86-64, -O2)" % unit)
    print("  %-10s" % "manager" + "".join("%12s" % ("live=%d" % n) for n in LIVE))
    for impl, iters in IMPLS:
        row = []
        for live in LIVE:
            if have_valgrind:
                row.append("%12.0f" % (callgrind_instructions(binary, impl, live, iters) / iters))
            else:
                row.append("%12.1f" % wall_ns(binary, impl, live, iters))
        print("  %-10s" % impl + "".join(row), flush=True)
    print()
    sys.stdout.flush()
    subprocess.run([binary, "frag"], check=True)


if __name__ == "__main__":
    main()
