#!/usr/bin/env python3
"""The driver of `make bench`: run the in-OS benchmarks, keep their numbers.

Boots minnow once on one core under `-icount shift=0,sleep=off`, so that
counts of guest instructions are exact and repeatable, with the kernel
command line of --append (the Makefile passes init=bench). The benchmarks
print lines
    BENCH <name> instructions=<n> [<key>=<value> ...]
and then `BENCH-DONE`. Every BENCH line is echoed; the results are written
as JSON to --json: {"<name>": {"instructions": n, "<key>": value, ...}}, with
integer values as numbers. Fails, and writes no JSON, on a timeout, on a
line other than a BENCH line that says panic, PANIC, fault or FAILED, on a malformed
or repeated BENCH line, or when no BENCH line came before BENCH-DONE. The
full serial output goes to --log.
Relies on qemu_run.py beside it; standard library only.
"""

import argparse
import json
import os
import re
import sys

import qemu_run

DONE = re.compile(r"^\s*BENCH-DONE\s*$")
# A benchmark may well be named page_fault, so its own lines are exempt.
TROUBLE = re.compile(r"^(?!BENCH ).*(panic|PANIC|fault|FAILED)")
INTEGER = re.compile(r"-?[0-9]+")


class BenchError(Exception):
    """Benchmark output that cannot be turned into results."""


def parse_bench_line(line):
    """Parses one `BENCH name key=value ...` line into (name, fields)."""
    tokens = line.split()
    if len(tokens) < 2:
        raise BenchError(f"BENCH line without a name: {line!r}")
    fields = {}
    for token in tokens[2:]:
        key, equals, value = token.partition("=")
        if not (key and equals and value):
            raise BenchError(f"{token!r} is not key=value in {line!r}")
        fields[key] = int(value) if INTEGER.fullmatch(value) else value
    if not isinstance(fields.get("instructions"), int):
        raise BenchError(f"no instructions=<integer> in {line!r}")
    return tokens[1], fields


def parse_bench(lines):
    """The results of every BENCH line before BENCH-DONE, by name."""
    results = {}
    for line in lines:
        if DONE.match(line):
            break
        if line.startswith("BENCH "):
            name, fields = parse_bench_line(line)
            if name in results:
                raise BenchError(f"benchmark {name} reported twice")
            results[name] = fields
    if not results:
        raise BenchError("no BENCH line before BENCH-DONE")
    return results


def bench_scenario(append, timeout):
    done = qemu_run.Step("expect", DONE)
    trouble = qemu_run.Step("forbid", TROUBLE)
    return qemu_run.Scenario(id="bench", desc="in-OS benchmarks", cores=1,
                             args=append, timeout=timeout, icount=True,
                             steps=[done], forbids=[trouble], path="<bench>")


def write_json(path, results):
    """Writes the results whole or not at all."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    partial = path + ".tmp"
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    os.replace(partial, path)


def echo_bench_line(line):
    if line.startswith("BENCH"):
        print(line, flush=True)


def _parse_args(argv):
    p = argparse.ArgumentParser(description="Run minnow's in-OS benchmarks under -icount.")
    p.add_argument("--kernel", required=True, help="the kernel image")
    p.add_argument("--initrd", help="the boot modules archive")
    p.add_argument("--append", default="init=bench", help="the kernel command line")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    p.add_argument("--json", default="build/bench.json", help="where the results go")
    p.add_argument("--log", help="the serial log (default: bench.log beside --json)")
    p.add_argument("--qemu", help="the QEMU binary (default: $QEMU or qemu-system-aarch64)")
    return p.parse_args(argv)


def fail(reason, result=None, log_path=None):
    print(f"bench: FAIL: {reason}")
    for line in result.tail() if result else []:
        print(f"    | {line}")
    if log_path:
        print(f"    log: {log_path}")
    return 1


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    log_path = args.log or os.path.join(os.path.dirname(args.json), "bench.log")
    qemu_run.exit_on_sigterm()
    try:
        result = qemu_run.run_scenario(
            bench_scenario(args.append, args.timeout), args.kernel, args.initrd,
            log_path, qemu=args.qemu, on_line=echo_bench_line, grace=0.0)
    except KeyboardInterrupt:
        qemu_run.stop_all()
        return fail("interrupted")
    if not result.passed:
        return fail(result.reason, result, log_path)
    try:
        results = parse_bench(result.output_lines)
    except BenchError as error:
        return fail(str(error), result, log_path)
    write_json(args.json, results)
    print(f"bench: {len(results)} benchmarks in {args.json} ({result.elapsed:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
