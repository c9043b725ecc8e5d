"""Trace in a child process, so that nothing a user's code does can take the caller down.

The child (tracers/child.py) streams step graphs back as JSON lines as it makes them. Cancel
kills it at once (its whole process group); an exit, a crash, a hang past ``timeout`` or the
out-of-memory killer ends the trace with a TraceFailed that says what happened, carries the
user's last traceback and keeps the steps received so far.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ScriptError
from graphstage.tracers.session import TraceSession, graph_from_data

POLL_S = 0.05
OUTPUT_LINES = 400


class TraceFailed(ScriptError):
    """The traced code failed, exited, crashed or hung; ``session`` holds the steps received
    before that (possibly none)."""

    def __init__(self, message: str, details: str, session: TraceSession | None,
                 crashed: bool = False) -> None:
        super().__init__(message, details)
        self.session = session
        self.crashed = crashed  # the process ended without a Python error (details: its output)


def trace_isolated(
    script: str | os.PathLike,
    steps: int = 1,
    *,
    seed: int = 0,
    values: str | None = None,
    raw: bool = False,
    run_args: list[str] | None = None,
    finish: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_step: Callable[[TraceSession], None] | None = None,
    timeout: float | None = None,
    echo: bool = False,
) -> TraceSession:
    """Trace (or, with ``run_args`` not None, record as ``graphstage run``) a script in a child
    process and return its session. ``echo`` passes the child's stderr (the user's prints)
    through to ours; ``timeout`` (seconds) bounds the whole trace."""
    cmd = [sys.executable, "-m", "graphstage.tracers.child", str(script), "--steps", str(steps),
           "--seed", str(seed)]
    if values:
        cmd += ["--values", values]
    if raw:
        cmd.append("--raw")
    if run_args is not None:
        cmd += ["--run", *(["--finish"] if finish else []), "--", *run_args]
    child = _Child(cmd, echo)
    return child.collect(Path(script).name, steps, progress, cancel, on_step, timeout)


class _Child:
    """One child process, its protocol reader and its stderr tail."""

    def __init__(self, cmd: list[str], echo: bool) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen([*cmd, "--proto-fd", str(write_fd)] if "--" not in cmd
                                         else _before_dashes(cmd, "--proto-fd", str(write_fd)),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, pass_fds=(write_fd,),
                                         start_new_session=True)
        finally:
            os.close(write_fd)
        self.protocol = os.fdopen(read_fd, "rb")
        self.messages: queue.Queue = queue.Queue()
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES)
        self.echo = echo
        threading.Thread(target=self._read_protocol, daemon=True).start()
        for pipe, sink in ((self.proc.stdout, sys.stdout), (self.proc.stderr, sys.stderr)):
            threading.Thread(target=self._read_output, args=(pipe, sink), daemon=True).start()

    def _read_protocol(self) -> None:
        with self.protocol:
            for line in self.protocol:
                try:
                    self.messages.put(json.loads(line))
                except ValueError:
                    self.output.append(line.decode("utf-8", "replace"))
        self.messages.put(None)  # end of stream

    def _read_output(self, pipe, sink) -> None:
        """Keep the last lines of the user's output; pass them on when echoing."""
        for raw in pipe:
            line = raw.decode("utf-8", "replace")
            self.output.append(line)
            if self.echo:
                sink.write(line)
                sink.flush()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def collect(self, name: str, steps: int, progress, cancel, on_step,
                timeout: float | None) -> TraceSession:
        """Read messages until done/error/exit; build the session as steps arrive."""
        session: TraceSession | None = None
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while True:
                if cancel is not None and cancel():
                    self.kill()
                    raise TraceCancelled(f"cancelled after {_count(session)} of {steps} steps")
                if deadline is not None and time.monotonic() > deadline:
                    self.kill()
                    raise self._failed(name, steps, session,
                                       f"did not finish within {timeout:g} s and was stopped")
                try:
                    msg = self.messages.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if msg is None:
                    self.proc.wait()
                    raise self._failed(name, steps, session, _exit_text(self.proc.returncode))
                kind = msg.get("t")
                if kind == "progress" and progress is not None:
                    progress(msg["done"], msg["total"], msg["msg"])
                elif kind == "step":
                    session = _add_step(session, msg)
                    if on_step is not None:
                        on_step(session)
                elif kind == "error":
                    self.proc.wait()
                    raise TraceFailed(msg["message"], msg.get("details") or self._tail(),
                                      session)
                elif kind == "done":
                    self.proc.wait()
                    if session is None:
                        raise TraceFailed(f"{name}: the trace produced no steps", self._tail(),
                                          None)
                    session.meta.update(msg.get("meta") or {})  # what the tracer added last
                    session.meta.setdefault("ended", msg.get("ended", ""))
                    return session
        finally:
            if self.proc.poll() is None:
                self.kill()

    def _tail(self) -> str:
        time.sleep(POLL_S)  # let the stderr reader catch the last lines
        return "".join(self.output)

    def _failed(self, name: str, steps: int, session: TraceSession | None,
                what: str) -> TraceFailed:
        where = f"during step {_count(session) + 1} of {steps}"
        return TraceFailed(f"{name}: the traced code {what} {where}", self._tail(), session,
                           crashed=True)


def _before_dashes(cmd: list[str], *extra: str) -> list[str]:
    cut = cmd.index("--")
    return [*cmd[:cut], *extra, *cmd[cut:]]


def _count(session: TraceSession | None) -> int:
    return len(session.steps) if session is not None else 0


def _add_step(session: TraceSession | None, msg: dict) -> TraceSession:
    if session is None:
        session = TraceSession(framework=msg["framework"], model=msg["model"],
                               meta=dict(msg.get("meta") or {}))
    metrics = dict(msg.get("metrics") or {})
    metrics.pop("nodes", None)
    session.add_step(graph_from_data(msg["graph"]), **metrics)
    return session


def _exit_text(code: int | None) -> str:
    """What an exit code means, in words."""
    if code is None:
        return "stopped"
    if code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"was killed by signal {-code}"
        hint = " (out of memory?)" if sig == signal.SIGKILL else ""
        return f"crashed: killed by signal {-code} ({sig.name}){hint}"
    return f"exited with code {code}" if code else "exited (code 0) before it finished"
