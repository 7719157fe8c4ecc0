#!/usr/bin/env python3
"""The driver of `make test`: host unit tests, then boot scenarios.

1. Runs the Criterion binary of tests/host (--unit) with a TAP report in a
   file and counts every test from it; the binary's own output goes to
   <logs>/unit-tests.log. Criterion's TAP is used because its JSON report
   does not escape assertion messages and so is not always valid JSON.
2. Boots the OS once per scenario file given (tests/boot/*.test, see
   qemu_run.py for the format), --jobs at a time, reports in order of id,
   and saves each serial log as <logs>/<id>.log.
3. Ends with the line `N passed, N failed` and exits non-zero when anything
   failed or nothing ran.
Relies on qemu_run.py beside it; standard library only.
"""

import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import qemu_run

UNIT_TIMEOUT = 600  # seconds for the whole unit test binary


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed


# -------------------------------------------------------------- unit tests

@dataclass
class TapTest:
    """One test of a TAP report; diag holds its indented YAML block."""
    name: str
    ok: bool
    skipped: bool
    rest: str
    diag: list = field(default_factory=list)


@dataclass
class TapReport:
    planned: int = None
    tests: list = field(default_factory=list)


_TAP_PLAN = re.compile(r"^1\.\.(\d+)")
_TAP_RESULT = re.compile(r"^(ok|not ok)\b\s*(?:\d+\s*)?-?\s*(\S+)\s*(.*)$")
_TAP_SKIP = re.compile(r"#\s*SKIP\b", re.IGNORECASE)
_TAP_TIME = re.compile(r"\s*\(\d+(?:\.\d+)?s\)\s*$")
_TAP_LOCATION = re.compile(r"^\s+- (.+?):\s*\|[+-]?\s*$")


def parse_tap(text):
    """Parses a TAP report into a TapReport; lines it does not know are skipped."""
    report = TapReport()
    for line in text.splitlines():
        plan = _TAP_PLAN.match(line)
        result = _TAP_RESULT.match(line)
        if plan:
            report.planned = int(plan.group(1))
        elif result:
            rest = result.group(3)
            report.tests.append(TapTest(result.group(2), result.group(1) == "ok",
                                        bool(_TAP_SKIP.search(rest)), rest))
        elif line.startswith(" ") and report.tests:
            report.tests[-1].diag.append(line)
    return report


def failure_detail(test):
    """One line on why a test failed: its first failed assertion, if any.

    Criterion lists a test's failed assertions latest first, so the first
    to fail is the last listed.
    """
    failures = []
    for i, line in enumerate(test.diag):
        location = _TAP_LOCATION.match(line)
        if location:
            message = test.diag[i + 1].strip() if i + 1 < len(test.diag) else ""
            failures.append(f"{location.group(1)}: {message}")
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return failures[-1] + more
    return _TAP_TIME.sub("", test.rest).strip() or "failed"


def _run_binary(argv, log_path, timeout):
    """Runs argv with its output in log_path; returns its status or None on timeout."""
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            _kill_group(proc)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _read_report(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return parse_tap(file.read())
    except OSError:
        return TapReport()


def _status_problem(status, report, failed):
    """A failure the TAP report does not show: a crash, a timeout, lost results."""
    if status is None:
        return f"timed out after {UNIT_TIMEOUT}s"
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    missing = (report.planned or 0) - len(report.tests)
    if missing > 0:
        return f"exited with status {status}; {missing} planned tests reported no result"
    if status != 0 and not report.tests:
        return f"exited with status {status} and reported no results"
    if status != 0 and not failed:
        return f"exited with status {status} though no test failed"
    return None


def run_unit(binary, logs):
    """Runs the Criterion binary; prints failures and a summary; returns a Tally."""
    start = time.monotonic()
    log_path = os.path.join(logs, "unit-tests.log")
    tap_path = os.path.join(logs, "unit-tests.tap")
    if os.path.exists(tap_path):
        os.remove(tap_path)  # a stale report must not stand in for a crash
    try:
        status = _run_binary([binary, f"--tap={tap_path}"], log_path, UNIT_TIMEOUT)
    except OSError as error:
        print(f"FAIL unit tests: cannot run {binary}: {error.strerror}")
        return Tally(0, 1)
    report = _read_report(tap_path)
    tally, skipped = _count_unit(report)
    problem = _status_problem(status, report, tally.failed)
    if problem:
        print(f"FAIL unit tests: {binary} {problem}")
        tally.failed += 1
    print(f"unit tests: {tally.passed} passed, {tally.failed} failed, "
          f"{skipped} skipped ({time.monotonic() - start:.1f}s)")
    if tally.failed:
        print(f"    log: {log_path}")
    return tally


def _count_unit(report):
    tally, skipped = Tally(), 0
    for test in report.tests:
        if test.skipped:
            skipped += 1
        elif test.ok:
            tally.passed += 1
        else:
            tally.failed += 1
            print(f"FAIL {test.name}: {failure_detail(test)}")
    return tally, skipped


# --------------------------------------------------------- boot scenarios

def expand_paths(paths):
    """Scenario files from the arguments: files, directories of *.test, and
    patterns the shell left unexpanded because nothing matched them."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(glob.glob(os.path.join(path, "*.test")))
        elif not os.path.exists(path) and any(c in path for c in "*?["):
            files += sorted(glob.glob(path))
        else:
            files.append(path)
    return files


def load_scenarios(paths):
    """Parses every file; returns (scenarios sorted by id, error messages)."""
    scenarios, errors, first_path = [], [], {}
    for path in paths:
        try:
            scenario = qemu_run.load_scenario(path)
        except qemu_run.ScenarioError as error:
            errors.append(str(error))
            continue
        if scenario.id in first_path:
            errors.append(f"{path}: id {scenario.id} is already used by {first_path[scenario.id]}")
            continue
        first_path[scenario.id] = path
        scenarios.append(scenario)
    return sorted(scenarios, key=lambda s: s.id), errors


def report_scenario(scenario, result, log_path):
    if result.passed:
        print(f"PASS {scenario.id} {scenario.desc} ({result.elapsed:.1f}s)", flush=True)
        return
    print(f"FAIL {scenario.id} {scenario.desc}: {result.reason}")
    for line in result.tail():
        print(f"    | {line}")
    print(f"    log: {log_path}", flush=True)


def run_scenarios(scenarios, options):
    """Boots every scenario, options.jobs at a time; reports in order of id."""
    tally = Tally()
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        try:
            _run_in_pool(pool, scenarios, options, tally)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            qemu_run.stop_all()
            raise
    return tally


def _run_in_pool(pool, scenarios, options, tally):
    def boot(scenario):
        log_path = os.path.join(options.logs, f"{scenario.id}.log")
        return log_path, qemu_run.run_scenario(
            scenario, options.kernel, options.initrd, log_path, qemu=options.qemu)

    futures = [pool.submit(boot, scenario) for scenario in scenarios]
    for scenario, future in zip(scenarios, futures):
        log_path, result = future.result()
        report_scenario(scenario, result, log_path)
        if result.passed:
            tally.passed += 1
        else:
            tally.failed += 1


def run_boot_tests(options):
    scenarios, errors = load_scenarios(expand_paths(options.scenarios))
    for error in errors:
        print(f"ERROR {error}", flush=True)
    tally = Tally(0, len(errors))
    if scenarios and not options.kernel:
        print("ERROR boot scenarios need --kernel")
        tally.failed += len(scenarios)
    elif scenarios:
        tally.add(run_scenarios(scenarios, options))
    return tally


# ------------------------------------------------------------------- main

def _parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run minnow's host unit tests and boot scenarios; "
                    "the last line is 'N passed, N failed'.")
    p.add_argument("--unit", metavar="BINARY", help="the Criterion test binary")
    p.add_argument("--kernel", help="the kernel image the scenarios boot")
    p.add_argument("--initrd", help="the boot modules archive")
    p.add_argument("--logs", default="build/test-logs", help="where logs go")
    p.add_argument("--jobs", type=int, default=2, help="scenarios booted at once")
    p.add_argument("--qemu", help="the QEMU binary (default: $QEMU or qemu-system-aarch64)")
    p.add_argument("scenarios", nargs="*", help="scenario files or directories of them")
    options = p.parse_args(argv)
    if options.jobs < 1:
        p.error("--jobs must be at least 1")
    return options


def main(argv=None):
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(options.logs, exist_ok=True)
    qemu_run.exit_on_sigterm()
    total = Tally()
    try:
        if options.unit:
            total.add(run_unit(options.unit, options.logs))
        total.add(run_boot_tests(options))
    except KeyboardInterrupt:
        qemu_run.stop_all()
        print("interrupted")
        return 130
    print(f"{total.passed} passed, {total.failed} failed")
    return 0 if total.failed == 0 and total.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
