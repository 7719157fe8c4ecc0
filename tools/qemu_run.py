#!/usr/bin/env python3
"""Boot minnow under QEMU and judge its serial output.

As a module it holds what the test and bench drivers (run_tests.py,
bench.py) share:
  - the scenario format of tests/boot/*.test and its parser, parse_scenario;
  - Matcher, the pure logic that walks a scenario's expects over the output;
  - run_scenario, which boots QEMU, types the scenario's input, enforces the
    time limit and always kills QEMU's whole process group at the end.
As a command it boots once with the options given, echoes the serial output
live and exits 0 once every --expect matched; see --help.

Scenario format: plain text, one `directive: value` per line; blank lines
and lines whose first non-blank character is '#' are ignored ('#' elsewhere
is part of the value). Values are trimmed of surrounding blanks.
    id: BOOT0001           required; letters, digits, '_' and '-'
    desc: one line         required; what the scenario shows
    cores: 4               -smp, default 4
    mem: 1G                -m, default 1G
    gic: 3                 GIC version (2, 3, 4 or max), default 3
    args: k=v k2=v2        the -append string, default empty
    timeout: 30            wall-clock seconds, default 60
    icount: yes            add -icount shift=0,sleep=off; yes or no, default no
    expect: REGEX          re.search'ed in output lines, in order (below)
    send: TEXT             typed once the expect before it matched, or at
                           start; escapes \\n \\r \\t \\\\ \\xHH; one byte every 2 ms
    forbid: REGEX          fails the scenario if any complete line matches
Each expect is tried only on lines after the one that matched the previous
expect, so one line satisfies at most one expect. An unfinished line that
stayed unchanged for 0.1 s (a prompt waiting for input) is tried too. At
least one expect is required. A scenario passes when every expect matched
and no forbid did, also during a grace period of 0.3 s after the last match.

Standard library only: it runs on a fresh machine before anything is
installed.
"""

import argparse
import codecs
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

DEFAULT_QEMU = "qemu-system-aarch64"
GRACE_SECONDS = 0.3    # read on after the last expect, to catch a late forbid
INPUT_BYTE_GAP = 0.002  # typed input arrives like a UART's, not in one burst
PROMPT_QUIET = 0.1     # an unfinished line this still is taken for a prompt
TERM_GRACE = 1.0       # SIGTERM first, SIGKILL after this
POLL_LIMIT = 0.25      # longest wait without checking that QEMU still runs
TAIL_LINES = 20        # lines of output a failure report shows


# ---------------------------------------------------------------- scenarios

class ScenarioError(Exception):
    """A scenario that cannot be run; the message names file and line."""


@dataclass
class Step:
    """One expect, send or forbid; value is a compiled regex or bytes."""
    kind: str
    value: object
    where: str = ""  # "file:line" of the directive, for messages


@dataclass
class Scenario:
    """One boot of the OS and what its serial output must (not) show."""
    id: str = ""
    desc: str = ""
    cores: int = 4
    mem: str = "1G"
    gic: str = "3"
    args: str = ""
    timeout: float = 60.0
    icount: bool = False
    steps: list = field(default_factory=list)    # expects and sends, in order
    forbids: list = field(default_factory=list)
    path: str = "<string>"


_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\"}


def unescape(text):
    """Turns a send value into bytes: \\n \\r \\t \\\\ and \\xHH escapes."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out += text[i].encode("utf-8")
            i += 1
            continue
        code = text[i + 1:i + 2]
        hex_digits = text[i + 2:i + 4]
        if code in _ESCAPES and code:
            out += _ESCAPES[code]
            i += 2
        elif code == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", hex_digits):
            out.append(int(hex_digits, 16))
            i += 4
        else:
            raise ValueError(f"unknown escape '\\{code}'")
    return bytes(out)


def parse_id(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("must be letters, digits, '_' or '-' (it names the log file)")
    return text


def parse_text(text):
    if not text:
        raise ValueError("must not be empty")
    return text


def parse_cores(text):
    if not re.fullmatch(r"[1-9][0-9]*", text):
        raise ValueError(f"{text!r} is not a positive number of cores")
    return int(text)


def parse_mem(text):
    if not re.fullmatch(r"[1-9][0-9]*[KMGT]?", text):
        raise ValueError(f"{text!r} is not a size like 512M or 1G")
    return text


def parse_gic(text):
    if text not in ("2", "3", "4", "max"):
        raise ValueError(f"{text!r} is not a GIC version: 2, 3, 4 or max")
    return text


def parse_timeout(text):
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{text!r} is not a positive number of seconds")
    return seconds


def parse_yes_no(text):
    if text not in ("yes", "no"):
        raise ValueError(f"{text!r} is neither yes nor no")
    return text == "yes"


def parse_regex(text):
    if not text:
        raise ValueError("an empty regex would match every line")
    try:
        return re.compile(text)
    except re.error as error:
        raise ValueError(f"bad regex {text!r}: {error}") from None


def parse_send(text):
    return unescape(parse_text(text))


# Directives that set one field of Scenario, each at most once.
_SETTINGS = {
    "id": parse_id, "desc": parse_text, "cores": parse_cores,
    "mem": parse_mem, "gic": parse_gic, "args": str,
    "timeout": parse_timeout, "icount": parse_yes_no,
}
# Directives that add a Step, as often as wanted.
_STEPS = {"expect": parse_regex, "send": parse_send, "forbid": parse_regex}


def parse_scenario(text, path="<string>"):
    """Parses a scenario file's text; raises ScenarioError naming path:line."""
    scenario = Scenario(path=path)
    seen = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            _parse_directive(scenario, line, f"{path}:{number}", seen)
    _check_complete(scenario)
    return scenario


def _parse_directive(scenario, line, where, seen):
    key, colon, value = (part.strip() for part in line.partition(":"))
    if not colon:
        raise ScenarioError(f"{where}: expected 'directive: value', got {line!r}")
    if key not in _SETTINGS and key not in _STEPS:
        raise ScenarioError(f"{where}: unknown directive {key!r}")
    if key in seen:
        raise ScenarioError(f"{where}: {key} given twice")
    try:
        if key in _SETTINGS:
            seen.add(key)
            setattr(scenario, key, _SETTINGS[key](value))
        else:
            step = Step(key, _STEPS[key](value), where)
            (scenario.forbids if key == "forbid" else scenario.steps).append(step)
    except ValueError as error:
        raise ScenarioError(f"{where}: {key}: {error}") from None


def _check_complete(scenario):
    for key in ("id", "desc"):
        if not getattr(scenario, key):
            raise ScenarioError(f"{scenario.path}: no '{key}:' line")
    if not any(step.kind == "expect" for step in scenario.steps):
        raise ScenarioError(f"{scenario.path}: no 'expect:' line")


def load_scenario(path):
    """Reads and parses one scenario file."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise ScenarioError(f"{path}: {error.strerror}") from None
    return parse_scenario(text, path)


# ----------------------------------------------------------------- matching

class Matcher:
    """Walks a scenario's expects over output, in order; pure, no I/O.

    Feed it every complete line (feed_line) and, when a line stays
    unfinished, its text so far (feed_partial: a prompt waits without a
    newline). Each call returns the bytes to send now. One line satisfies at
    most one expect, even if it was first seen unfinished. Forbids are
    checked on complete lines only: an unfinished line may still become one
    that does not match. The first failure sticks and ends all matching.
    """

    def __init__(self, steps, forbids=()):
        self._steps = list(steps)
        self._forbids = list(forbids)
        self._next = 0
        self._line_used = False  # the current line already matched, unfinished
        self._captures = {}      # named groups matched so far: (?P<name>...)
        self.failure = None

    @property
    def done(self):
        """True once every expect matched (sends are then already handed out)."""
        return self._next >= len(self._steps)

    def begin(self):
        """The input to send before any output: the sends before the first expect."""
        return self._take_sends()

    def feed_line(self, line):
        self._check_forbids(line)
        if self._line_used:
            self._line_used = False
            return b""
        return self._try_expect(line) or b""

    def feed_partial(self, text):
        if self._line_used:
            return b""
        sends = self._try_expect(text)
        self._line_used = sends is not None
        return sends or b""

    def waiting_for(self):
        """The expect not yet matched, or None."""
        return None if self.done else self._steps[self._next]

    def describe_wait(self):
        """Which expect is awaited, as a phrase for a failure message."""
        step = self.waiting_for()
        if step is None:
            return "after all expects matched"
        expects = [s for s in self._steps if s.kind == "expect"]
        number = next(i for i, s in enumerate(expects, 1) if s is step)
        where = f" ({step.where})" if step.where else ""
        return f"waiting for expect {number} of {len(expects)} /{step.value.pattern}/{where}"

    def _pattern(self, step):
        """The step's regex, with ${name} replaced by what (?P<name>...) captured
        in an earlier expect, so a scenario can check that two lines agree."""
        pattern = step.value.pattern
        if "${" not in pattern:
            return step.value
        for name, value in self._captures.items():
            pattern = pattern.replace("${" + name + "}", re.escape(value))
        return re.compile(pattern)

    def _try_expect(self, text):
        step = self.waiting_for()
        if self.failure or step is None:
            return None
        match = self._pattern(step).search(text)
        if not match:
            return None
        self._captures.update({k: v for k, v in match.groupdict().items() if v is not None})
        self._next += 1
        return self._take_sends()

    def _take_sends(self):
        data = bytearray()
        while not self.done and self._steps[self._next].kind == "send":
            data += self._steps[self._next].value
            self._next += 1
        return bytes(data)

    def _check_forbids(self, line):
        for step in self._forbids:
            if self.failure is None and step.value.search(line):
                where = f" ({step.where})" if step.where else ""
                self.failure = f"forbidden /{step.value.pattern}/{where} matched: {line!r}"


# ------------------------------------------------------------- the process

# The drivers run several QEMUs from worker threads while the main thread
# may call stop_all; _live_lock guards _live and _closing.
_live = set()            # every QemuProcess not yet stopped
_live_lock = threading.Lock()
_closing = False         # set by stop_all: start no more QEMUs


def qemu_binary(explicit=None):
    """The QEMU to run: the one given, else $QEMU, else qemu-system-aarch64."""
    return explicit or os.environ.get("QEMU") or DEFAULT_QEMU


def qemu_command(scenario, kernel, initrd=None, qemu=None, extra=()):
    """The full QEMU command line that boots scenario."""
    argv = [qemu_binary(qemu),
            "-M", f"virt,gic-version={scenario.gic}", "-cpu", "cortex-a72",
            "-smp", str(scenario.cores), "-m", scenario.mem,
            "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-no-reboot", "-kernel", kernel]
    if initrd:
        argv += ["-initrd", initrd]
    argv += ["-append", scenario.args]
    if scenario.icount:
        argv += ["-icount", "shift=0,sleep=off"]
    return argv + list(extra)


def stop_all():
    """Kills every running QEMU and refuses new ones: for Ctrl-C and SIGTERM."""
    global _closing
    with _live_lock:
        _closing = True
        running = list(_live)
    for process in running:
        process.stop()


def _decode(data):
    return data.decode("utf-8", "replace").replace("\r", "")


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _group_alive(pgid):
    """True while a process of the group still runs; zombies do not count.

    A zombie whose parent died waits for init to reap it, which in a
    container may never happen; kill(0) would count it as alive forever.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc/self"):
        return True
    return any(_runs_in_group(entry, pgid) for entry in os.listdir("/proc")
               if entry.isdigit())


def _runs_in_group(pid, pgid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except OSError:
        return False
    # The command name in parentheses may hold spaces; fields follow it.
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0] != "Z" and int(fields[2]) == pgid


class QemuProcess:
    """One QEMU: its merged stdout+stderr split into lines, paced input.

    QEMU leads a session of its own, so that stop() can kill it together
    with anything it started, and so that a Ctrl-C on the terminal reaches
    only the driver, which then stops it. One thread drives the process;
    only stop() may come from another (stop_all), serialised by _stop_lock.
    """

    def __init__(self, argv, echo=None):
        with _live_lock:
            if _closing:
                raise OSError("the runner is shutting down")
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, bufsize=0, start_new_session=True)
            _live.add(self)
        self._out = self._proc.stdout.fileno()
        self._in = self._proc.stdin.fileno()
        os.set_blocking(self._out, False)
        os.set_blocking(self._in, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)
        self._echo = echo
        self._echo_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = b""          # output after the last newline
        self._tail_offered = False  # quiet_tail already returned _buffer
        self._pending = bytearray()  # input not yet written
        self._next_write = 0.0
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.last_output = time.monotonic()
        self.eof = False

    @property
    def input_pending(self):
        return bool(self._pending)

    def queue_input(self, data):
        self._pending += data

    def next_event_time(self):
        """When this process next needs attention without new output."""
        times = []
        if self._pending:
            times.append(self._next_write)
        if self._buffer and not self._tail_offered:
            times.append(self.last_output + PROMPT_QUIET)
        return min(times, default=None)

    def pump_input(self, now):
        """Writes the next input byte if its time has come."""
        if not self._pending or now < self._next_write:
            return
        try:
            written = os.write(self._in, self._pending[:1])
        except BlockingIOError:
            written = 0
        except OSError:
            # QEMU no longer reads; its exit will show as the end of output.
            self._pending.clear()
            return
        del self._pending[:written]
        self._next_write = now + INPUT_BYTE_GAP

    def read(self, timeout):
        """Waits up to timeout for output; returns the lines it completed."""
        if self.eof:
            return []
        if not self._selector.select(max(timeout, 0.0)):
            # No output is pending, so an exited QEMU has said all it will,
            # even if something it started still holds the pipe open.
            self.eof = self._proc.poll() is not None
            return []
        try:
            chunk = os.read(self._out, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            self.eof = True
            return []
        return self._take_output(chunk)

    def _take_output(self, chunk):
        self.last_output = time.monotonic()
        self._tail_offered = False
        if self._echo:
            self._echo.write(self._echo_decoder.decode(chunk).replace("\r", ""))
            self._echo.flush()
        *complete, self._buffer = (self._buffer + chunk).split(b"\n")
        return [_decode(line) for line in complete]

    def quiet_tail(self, now):
        """The unfinished last line, once, after it stayed unchanged a while."""
        if not self._buffer or self._tail_offered:
            return None
        if now - self.last_output < PROMPT_QUIET:
            return None
        self._tail_offered = True
        return _decode(self._buffer)

    def take_tail(self):
        """The unfinished last line, removed from the buffer."""
        tail, self._buffer = self._buffer, b""
        return _decode(tail) if tail else None

    def exit_status(self, wait=2.0):
        """QEMU's exit status once its output ended; None if it still runs."""
        try:
            return self._proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends QEMU and its process group: SIGTERM, then SIGKILL after 1 s.

        Safe to call again, from any thread: a stop cut short by Ctrl-C is
        done over by the next call (stop_all).
        """
        with self._stop_lock:
            if not self._stopped:
                self._kill_group()
                self._close()
                self._stopped = True

    def _kill_group(self):
        pgid = self._proc.pid  # a session leader's group id is its pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        while self._proc.poll() is None or _group_alive(pgid):
            if time.monotonic() >= deadline:
                _signal_group(pgid, signal.SIGKILL)
                break
            time.sleep(0.02)
        self._proc.wait()

    def _close(self):
        self._selector.close()
        for pipe in (self._proc.stdin, self._proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        with _live_lock:
            _live.discard(self)


# ------------------------------------------------------------------ running

@dataclass
class Result:
    """The verdict on one run."""
    passed: bool
    reason: str
    output_lines: list
    elapsed: float
    exit_status: object = None  # QEMU's status if it exited by itself

    def tail(self, count=TAIL_LINES):
        return self.output_lines[-count:]


class _Log:
    """The serial log of one run: the QEMU command, every line, the verdict."""

    def __init__(self, path, argv):
        self._file = None
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._file = open(path, "w", encoding="utf-8", buffering=1)
            self._file.write(f"# qemu: {shlex.join(argv)}\n")

    def line(self, text):
        if self._file:
            self._file.write(text + "\n")

    def close(self, result):
        if self._file:
            verdict = "PASS" if result.passed else "FAIL"
            self._file.write(f"# {verdict}: {result.reason} ({result.elapsed:.1f}s)\n")
            self._file.close()


def _status_text(status):
    if status is None:
        return "it closed its output"
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"status {status}"


class _Run:
    """The state of one boot: process, matcher, the lines seen, the clock."""

    def __init__(self, scenario, proc, log, on_line, until_exit):
        self.scenario = scenario
        self.proc = proc
        self.log = log
        self.on_line = on_line
        self.until_exit = until_exit
        self.matcher = Matcher(scenario.steps, scenario.forbids)
        self.lines = []
        self.deadline = time.monotonic() + scenario.timeout
        self.finish_at = None  # end of the grace period, once satisfied
        self.exit_status = None

    def drive(self, grace):
        """Runs until a verdict; returns (passed, reason)."""
        self.proc.queue_input(self.matcher.begin())
        while True:
            now = time.monotonic()
            event = self._event(now, grace)
            if event:
                return self._verdict(event)
            self.proc.pump_input(now)
            for line in self.proc.read(self._wait_time(now)):
                self._take_line(line)
            tail = self.proc.quiet_tail(time.monotonic())
            if tail is not None:
                self.proc.queue_input(self.matcher.feed_partial(tail))

    def _event(self, now, grace):
        if self.matcher.failure:
            return "failed"
        if self.proc.eof:
            return "exited"
        if self.finish_at is None and self._satisfied():
            self.finish_at = now + grace
        if self.finish_at is not None:
            return "finished" if now >= self.finish_at else None
        return "timeout" if now >= self.deadline else None

    def _satisfied(self):
        return (self.matcher.done and not self.proc.input_pending
                and not self.until_exit)

    def _wait_time(self, now):
        limits = [self.finish_at or self.deadline, now + POLL_LIMIT]
        process_time = self.proc.next_event_time()
        if process_time is not None:
            limits.append(process_time)
        return min(limits) - now

    def _take_line(self, line):
        self.lines.append(line)
        self.log.line(line)
        if self.on_line:
            self.on_line(line)
        self.proc.queue_input(self.matcher.feed_line(line))

    def _verdict(self, event):
        tail = self.proc.take_tail()
        if tail is not None:
            self._take_line(tail)
        if self.matcher.failure:
            return False, self.matcher.failure
        if event == "finished":
            return True, "all expects matched"
        if event == "timeout":
            return False, self._timeout_reason()
        return self._exit_verdict()

    def _timeout_reason(self):
        limit = f"timed out after {self.scenario.timeout:g}s"
        if self.until_exit and self.matcher.done:
            return f"{limit} (QEMU still running)"
        return f"{limit} {self.matcher.describe_wait()}"

    def _exit_verdict(self):
        self.exit_status = self.proc.exit_status()
        exited = f"QEMU exited ({_status_text(self.exit_status)})"
        if not self.matcher.done:
            return False, f"{exited} while {self.matcher.describe_wait()}"
        if self.until_exit:
            return self.exit_status == 0, exited
        return True, "all expects matched"


def _missing_input(kernel, initrd):
    for what, path in (("kernel", kernel), ("initrd", initrd)):
        if path and not os.path.isfile(path):
            return f"{what} {path} does not exist (not built?)"
    return None


def run_scenario(scenario, kernel, initrd=None, log_path=None, *, qemu=None,
                 extra=(), echo=None, on_line=None, grace=GRACE_SECONDS,
                 until_exit=False):
    """Boots scenario once and judges its output; never leaves QEMU behind.

    echo, a text file, receives the raw output as it arrives; on_line is
    called with every complete line. With until_exit the run ends only when
    QEMU exits (passing if it exits with status 0 after all expects) or at
    the timeout, not when the expects are done.
    """
    argv = qemu_command(scenario, kernel, initrd, qemu, extra)
    log = _Log(log_path, argv)
    result = Result(False, "interrupted", [], 0.0)
    try:
        result = _boot_and_judge(scenario, argv, log, echo, on_line,
                                 grace, until_exit, (kernel, initrd))
    finally:
        log.close(result)
    return result


def _boot_and_judge(scenario, argv, log, echo, on_line, grace, until_exit, inputs):
    start = time.monotonic()
    missing = _missing_input(*inputs)
    if missing:
        return Result(False, missing, [], 0.0)
    try:
        proc = QemuProcess(argv, echo)
    except OSError as error:
        return Result(False, f"cannot start QEMU: {error}", [], 0.0)
    run = _Run(scenario, proc, log, on_line, until_exit)
    try:
        passed, reason = run.drive(grace)
        elapsed = time.monotonic() - start
    finally:
        proc.stop()
    return Result(passed, reason, run.lines, elapsed, run.exit_status)


class LineEcho:
    """Echoes output to a text stream, remembering whether a line is open."""

    def __init__(self, stream):
        self._stream = stream
        self.at_line_start = True

    def write(self, text):
        if text:
            self._stream.write(text)
            self.at_line_start = text.endswith("\n")

    def flush(self):
        self._stream.flush()

    def end_line(self):
        if not self.at_line_start:
            self.write("\n")


def exit_on_sigterm():
    """Makes SIGTERM unwind like Ctrl-C, so every QEMU gets stopped."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


# ------------------------------------------------------------------ command

class _StepAction(argparse.Action):
    """Collects --expect and --send in the order given on the command line."""

    def __call__(self, parser, namespace, value, option_string=None):
        steps = getattr(namespace, self.dest) or []
        steps.append((option_string.lstrip("-"), value))
        setattr(namespace, self.dest, steps)


def _cli_type(convert):
    def checked(text):
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    checked.__name__ = convert.__name__
    return checked


def _split_qemu_args(argv):
    """Splits off the arguments after '--', which go to QEMU unchanged."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def _parser():
    p = argparse.ArgumentParser(
        description="Boot minnow under QEMU, echo its serial output and check it.",
        epilog="Arguments after '--' are passed to QEMU unchanged, as are "
               "--extra=ARG ones (write '=' when ARG starts with '-'). "
               "Exit status: 0 when every --expect matched (without --expect: "
               "when QEMU exited by itself with status 0), 1 otherwise.")
    p.add_argument("--kernel", required=True, help="the kernel image")
    p.add_argument("--initrd", help="the boot modules archive")
    p.add_argument("--cores", type=_cli_type(parse_cores), default=4, help="default 4")
    p.add_argument("--mem", type=_cli_type(parse_mem), default="1G", help="default 1G")
    p.add_argument("--gic", type=_cli_type(parse_gic), default="3",
                   help="GIC version: 2, 3 (default), 4 or max")
    p.add_argument("--append", default="", help="the kernel command line")
    p.add_argument("--icount", action="store_true", help="-icount shift=0,sleep=off")
    p.add_argument("--timeout", type=_cli_type(parse_timeout), default=60.0,
                   help="wall-clock seconds, default 60")
    p.add_argument("--expect", action=_StepAction, dest="steps", metavar="REGEX",
                   help="wait for a line matching REGEX (in order, repeatable)")
    p.add_argument("--send", action=_StepAction, dest="steps", metavar="TEXT",
                   help="type TEXT (escapes as in scenarios) after the previous --expect")
    p.add_argument("--forbid", type=_cli_type(parse_regex), action="append",
                   default=[], metavar="REGEX", help="fail on a line matching REGEX")
    p.add_argument("--extra", action="append", default=[], metavar="ARG",
                   help="one more QEMU argument (repeatable)")
    p.add_argument("--qemu", help=f"the QEMU binary (default: $QEMU or {DEFAULT_QEMU})")
    p.add_argument("--log", help="also write the serial output to this file")
    p.add_argument("--interactive", action="store_true",
                   help="exec QEMU on this terminal (make run, make debug): no checks")
    p.add_argument("--print-cmd", action="store_true",
                   help="print the QEMU command line and exit")
    return p


def _cli_scenario(parser, args):
    scenario = Scenario(id="cli", desc="command line", cores=args.cores,
                        mem=args.mem, gic=args.gic, args=args.append,
                        timeout=args.timeout, icount=args.icount, path="<cli>")
    for kind, text in args.steps or []:
        convert = parse_regex if kind == "expect" else parse_send
        try:
            scenario.steps.append(Step(kind, convert(text), f"--{kind}"))
        except ValueError as error:
            parser.error(f"--{kind}: {error}")
    scenario.forbids = [Step("forbid", regex, "--forbid") for regex in args.forbid]
    return scenario


def main(argv=None):
    own, qemu_args = _split_qemu_args(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(own)
    scenario = _cli_scenario(parser, args)
    extra = args.extra + qemu_args
    command = qemu_command(scenario, args.kernel, args.initrd, args.qemu, extra)
    if args.print_cmd:
        print(shlex.join(command))
        return 0
    if args.interactive:
        os.execvp(command[0], command)
    has_expects = any(step.kind == "expect" for step in scenario.steps)
    echo = LineEcho(sys.stdout)
    exit_on_sigterm()
    try:
        result = run_scenario(scenario, args.kernel, args.initrd, args.log,
                              qemu=args.qemu, extra=extra, echo=echo,
                              until_exit=not has_expects)
    except KeyboardInterrupt:
        stop_all()
        echo.end_line()
        print("qemu_run: interrupted; QEMU stopped", file=sys.stderr)
        return 130
    echo.end_line()
    echo.flush()
    verdict = "PASS" if result.passed else "FAIL"
    print(f"qemu_run: {verdict}: {result.reason} ({result.elapsed:.1f}s)",
          file=sys.stderr)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
