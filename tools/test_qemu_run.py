#!/usr/bin/env python3
"""Self-check of the host tools: python3 tools/test_qemu_run.py

Covers the scenario parser, send escapes and the in-order matching of
qemu_run.py as pure functions, the TAP and BENCH parsers of run_tests.py and
bench.py, and the runner itself against a stand-in for QEMU (a small Python
script written to a temporary directory) to show that input is typed, time
limits hold and no process is left behind.
"""

import os
import re
import stat
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
import qemu_run  # noqa: E402
import run_tests  # noqa: E402
from qemu_run import Matcher, ScenarioError, Step, parse_scenario, unescape  # noqa: E402

GOOD = """\
# a comment, then a blank line

id: BOOT0001
desc: banner reports 4 cores and 1 GiB
cores: 2
mem: 512M
gic: 2
args: key=value other=thing
timeout: 30
icount: yes
expect: ^minnow> $
send: ls\\n
  # an indented comment
expect: a#b: c
forbid: panic
"""


def expects(*patterns):
    return [Step("expect", re.compile(p)) for p in patterns]


class ScenarioParserTests(unittest.TestCase):
    def test_good_file_sets_every_field(self):
        s = parse_scenario(GOOD, "x.test")
        self.assertEqual((s.id, s.desc), ("BOOT0001", "banner reports 4 cores and 1 GiB"))
        self.assertEqual((s.cores, s.mem, s.gic), (2, "512M", "2"))
        self.assertEqual((s.args, s.timeout, s.icount), ("key=value other=thing", 30.0, True))
        self.assertEqual([st.kind for st in s.steps], ["expect", "send", "expect"])
        self.assertEqual(s.steps[1].value, b"ls\n")
        self.assertEqual(s.steps[2].value.pattern, "a#b: c")
        self.assertEqual(s.steps[2].where, "x.test:14")
        self.assertEqual([f.value.pattern for f in s.forbids], ["panic"])

    def test_omitted_settings_take_defaults(self):
        s = parse_scenario("id: A1\ndesc: d\nexpect: x\n")
        self.assertEqual((s.cores, s.mem, s.gic, s.args), (4, "1G", "3", ""))
        self.assertEqual((s.timeout, s.icount), (60.0, False))

    def test_unknown_directive_names_file_and_line(self):
        with self.assertRaisesRegex(ScenarioError, r"^x\.test:3: unknown directive 'expec'"):
            parse_scenario("id: A1\ndesc: d\nexpec: x\n", "x.test")

    def test_line_without_colon_is_rejected(self):
        with self.assertRaisesRegex(ScenarioError, r"x\.test:2: expected"):
            parse_scenario("id: A1\njust words\n", "x.test")

    def test_missing_id_is_rejected(self):
        with self.assertRaisesRegex(ScenarioError, r"no 'id:' line"):
            parse_scenario("desc: d\nexpect: x\n")

    def test_missing_desc_is_rejected(self):
        with self.assertRaisesRegex(ScenarioError, r"no 'desc:' line"):
            parse_scenario("id: A1\nexpect: x\n")

    def test_scenario_without_expect_is_rejected(self):
        with self.assertRaisesRegex(ScenarioError, r"no 'expect:' line"):
            parse_scenario("id: A1\ndesc: d\nsend: x\n")

    def test_setting_given_twice_is_rejected(self):
        with self.assertRaisesRegex(ScenarioError, r":3: cores given twice"):
            parse_scenario("id: A1\ncores: 1\ncores: 2\n")

    def test_bad_values_are_rejected_with_their_line(self):
        for line in ("cores: 0", "mem: lots", "gic: 5", "timeout: -1",
                     "icount: maybe", "expect: (", "send: \\q", "id: a b"):
            with self.subTest(line=line):
                with self.assertRaisesRegex(ScenarioError, r"^t:2: "):
                    parse_scenario(f"desc: d\n{line}\n", "t")


class UnescapeTests(unittest.TestCase):
    def test_named_escapes(self):
        self.assertEqual(unescape(r"a\nb\rc\td\\e"), b"a\nb\rc\td\\e")

    def test_hex_escape_gives_one_byte(self):
        self.assertEqual(unescape(r"\x03\xff"), b"\x03\xff")

    def test_plain_text_is_utf8(self):
        self.assertEqual(unescape("é"), "é".encode("utf-8"))

    def test_unknown_or_cut_escapes_are_errors(self):
        for text in (r"\q", "end\\", r"\x4"):
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    unescape(text)


class MatcherTests(unittest.TestCase):
    def feed(self, matcher, lines):
        return b"".join(matcher.feed_line(line) for line in lines)

    def test_expects_match_in_order(self):
        m = Matcher(expects("second", "first"))
        self.feed(m, ["first", "second", "first"])
        self.assertTrue(m.done)

    def test_out_of_order_lines_leave_expect_waiting(self):
        m = Matcher(expects("first", "second"))
        self.feed(m, ["second", "first"])
        self.assertFalse(m.done)
        self.assertIn("expect 2 of 2 /second/", m.describe_wait())

    def test_one_line_satisfies_one_expect(self):
        m = Matcher(expects("ok", "ok"))
        self.feed(m, ["ok ok"])
        self.assertFalse(m.done)
        self.feed(m, ["ok"])
        self.assertTrue(m.done)

    def test_captured_value_must_reappear_in_a_later_expect(self):
        m = Matcher(expects(r"gives (?P<n>\d+) bytes", r"got ${n} bytes"))
        self.feed(m, ["gives 4096 bytes", "got 8192 bytes"])
        self.assertFalse(m.done)
        self.feed(m, ["got 4096 bytes"])
        self.assertTrue(m.done)

    def test_sends_follow_the_expect_before_them(self):
        steps = [Step("send", b"a"), *expects("go"), Step("send", b"b"), Step("send", b"c")]
        m = Matcher(steps)
        self.assertEqual(m.begin(), b"a")
        self.assertEqual(m.feed_line("nothing"), b"")
        self.assertEqual(m.feed_line("go"), b"bc")
        self.assertTrue(m.done)

    def test_forbid_fails_even_after_all_expects(self):
        m = Matcher(expects("x"), [Step("forbid", re.compile("panic"))])
        self.feed(m, ["x", "kernel panic"])
        self.assertIn("kernel panic", m.failure)

    def test_first_failure_sticks_and_stops_matching(self):
        m = Matcher(expects("x"), [Step("forbid", re.compile("bad"))])
        self.feed(m, ["bad one", "x", "bad two"])
        self.assertIn("bad one", m.failure)
        self.assertFalse(m.done)

    def test_prompt_matches_unfinished_and_its_line_is_used_up(self):
        m = Matcher([*expects("^> $"), Step("send", b"ls\n"), *expects("ls")])
        self.assertEqual(m.feed_partial("> "), b"ls\n")
        self.assertEqual(m.feed_line("> ls"), b"")
        self.assertFalse(m.done)
        self.feed(m, ["ls: done"])
        self.assertTrue(m.done)

    def test_forbid_ignores_unfinished_line(self):
        m = Matcher(expects("x"), [Step("forbid", re.compile("^panic$"))])
        m.feed_partial("panic")
        self.assertIsNone(m.failure)


class TapParserTests(unittest.TestCase):
    REPORT = textwrap.dedent("""\
        TAP version 13
        1..4
        # Criterion v2.4.1
        ok - mm::passes  (0.00s)
        not ok - mm::fails a description (0.00s)
          ---
          assertions: 2
          failures:
          - t.c:9: |+
              Assertion failed: later
          - t.c:8: |+
              Assertion failed: first
          ...
        ok - mm::skipped  # SKIP not today
        not ok - mm::crashes unexpected signal after t.c:5
        """)

    def test_counts_each_test(self):
        report = run_tests.parse_tap(self.REPORT)
        self.assertEqual(report.planned, 4)
        self.assertEqual([(t.name, t.ok, t.skipped) for t in report.tests],
                         [("mm::passes", True, False), ("mm::fails", False, False),
                          ("mm::skipped", True, True), ("mm::crashes", False, False)])

    def test_failure_detail_names_first_failed_assertion(self):
        tests = run_tests.parse_tap(self.REPORT).tests
        self.assertEqual(run_tests.failure_detail(tests[1]),
                         "t.c:8: Assertion failed: first (and 1 more)")
        self.assertEqual(run_tests.failure_detail(tests[3]), "unexpected signal after t.c:5")

    def test_empty_output_has_no_results(self):
        self.assertEqual(run_tests.parse_tap("").tests, [])


class BenchParserTests(unittest.TestCase):
    def test_fields_become_numbers_or_strings(self):
        lines = ["boot", "BENCH ipc instructions=120 bytes=64 mode=fast", "BENCH-DONE"]
        self.assertEqual(bench.parse_bench(lines),
                         {"ipc": {"instructions": 120, "bytes": 64, "mode": "fast"}})

    def test_lines_after_done_are_ignored(self):
        lines = ["BENCH a instructions=1", "BENCH-DONE", "BENCH b instructions=2"]
        self.assertEqual(list(bench.parse_bench(lines)), ["a"])

    def test_bad_lines_are_errors(self):
        for line in ("BENCH a cycles=3", "BENCH a instructions=many", "BENCH a x",
                     "BENCH"):
            with self.subTest(line=line):
                with self.assertRaises(bench.BenchError):
                    bench.parse_bench([line])

    def test_no_results_is_an_error(self):
        with self.assertRaisesRegex(bench.BenchError, "no BENCH line"):
            bench.parse_bench(["BENCH-DONE"])

    def test_trouble_spares_bench_lines(self):
        self.assertIsNone(bench.TROUBLE.search("BENCH page_fault instructions=9"))
        self.assertIsNotNone(bench.TROUBLE.search("data abort: fault at 0x0"))


# A stand-in for QEMU, chosen by mode=... in the -append string.
FAKE_QEMU = """\
import os, signal, subprocess, sys, time
args = sys.argv[1:]
mode = args[args.index("-append") + 1].partition("mode=")[2]
def say(text, end="\\r\\n"):
    sys.stdout.write(text + end)
    sys.stdout.flush()
say("smp " + args[args.index("-smp") + 1] + (" icount" if "-icount" in args else ""))
if mode == "shell":
    say("> ", end="")
    typed = b""
    while not typed.endswith(b"\\n"):
        typed += os.read(0, 1)
    say("")
    say("you typed " + typed.decode().strip())
    time.sleep(30)
elif mode == "hang":
    child = subprocess.Popen(["sleep", "30"])
    say("child " + str(child.pid))
    time.sleep(30)
elif mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    say("ready")
    time.sleep(30)
elif mode == "late-panic":
    say("ready")
    time.sleep(0.1)
    say("panic: late")
    time.sleep(30)
else:
    sys.exit(7)
"""


def _process_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class RunnerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.qemu = os.path.join(cls.dir.name, "qemu")
        with open(cls.qemu, "w") as file:
            file.write(f"#!{sys.executable}\n{FAKE_QEMU}")
        os.chmod(cls.qemu, stat.S_IRWXU)
        cls.kernel = os.path.join(cls.dir.name, "kernel")
        open(cls.kernel, "w").close()

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def run_text(self, text):
        scenario = parse_scenario("id: T1\ndesc: d\n" + text, "t.test")
        log = os.path.join(self.dir.name, "t.log")
        return qemu_run.run_scenario(scenario, self.kernel, None, log, qemu=self.qemu)

    def test_typed_input_reaches_the_guest(self):
        r = self.run_text("args: mode=shell\ncores: 2\nicount: yes\nexpect: ^smp 2 icount$\n"
                          "expect: ^> $\nsend: hello\\n\nexpect: ^you typed hello$\n")
        self.assertTrue(r.passed, r.reason)

    def test_timeout_names_the_expect_and_kills_the_group(self):
        r = self.run_text("args: mode=hang\ntimeout: 0.5\nexpect: child\nexpect: never\n")
        self.assertFalse(r.passed)
        self.assertIn("timed out after 0.5s waiting for expect 2 of 2 /never/ (t.test:6)",
                      r.reason)
        child = next(line.split()[1] for line in r.output_lines if line.startswith("child"))
        self.assertTrue(_process_gone(child))

    def test_process_ignoring_sigterm_is_killed(self):
        start = time.monotonic()
        r = self.run_text("args: mode=stubborn\nexpect: ready\n")
        self.assertTrue(r.passed, r.reason)
        self.assertLess(time.monotonic() - start, qemu_run.TERM_GRACE + 1.5)

    def test_early_exit_fails_with_its_status(self):
        r = self.run_text("args: mode=exit\nexpect: never\n")
        self.assertFalse(r.passed)
        self.assertIn("QEMU exited (status 7)", r.reason)
        self.assertEqual(r.exit_status, 7)

    def test_forbid_in_grace_period_fails(self):
        r = self.run_text("args: mode=late-panic\nexpect: ready\nforbid: panic\n")
        self.assertFalse(r.passed)
        self.assertIn("panic: late", r.reason)

    def test_missing_kernel_fails_without_booting(self):
        scenario = parse_scenario("id: T1\ndesc: d\nexpect: x\n")
        r = qemu_run.run_scenario(scenario, "/nonexistent/kernel", qemu=self.qemu)
        self.assertIn("does not exist", r.reason)


if __name__ == "__main__":
    unittest.main()
