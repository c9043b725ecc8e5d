"""The tracing child process: ``python -m graphstage.tracers.child SCRIPT --steps N ...``.

It traces a model script (or records a training script, ``--run``) and streams what it makes
to its parent as JSON lines on a pipe of its own (``--proto-fd``): progress, one message per
step graph (plain node-link data, never pickle), then ``done`` or ``error``. The user's prints
keep stdout and stderr. tracers/isolated.py is the parent side.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import sys
import traceback
from typing import Any, TextIO

from graphstage.tracers.session import TraceSession, graph_to_data


class _Sender:
    """Writes protocol messages; sends each step graph once, as soon as it exists."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.sent = 0

    def send(self, kind: str, **data: Any) -> None:
        self.stream.write(json.dumps({"t": kind, **data}, default=repr) + "\n")
        self.stream.flush()

    def progress(self, done: int, total: int, message: str) -> None:
        self.send("progress", done=done, total=total, msg=message)

    def steps(self, session: TraceSession) -> None:
        for g, m in zip(session.steps[self.sent:], session.metrics[self.sent:], strict=True):
            self.send("step", framework=session.framework, model=session.model,
                      meta=session.meta, graph=graph_to_data(g), metrics=m)
        self.sent = len(session.steps)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="graphstage.tracers.child")
    ap.add_argument("script")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--values", default=None)
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--run", action="store_true", help="record an unmodified training script")
    ap.add_argument("--finish", action="store_true")
    ap.add_argument("--proto-fd", type=int, required=True, help="where protocol lines go")
    return ap


def _work(args: argparse.Namespace, script_args: list[str], out: _Sender) -> None:
    if args.run:
        from graphstage.tracers.record import run_script

        session, ended = run_script(args.script, args.steps, script_args, finish=args.finish,
                                    on_step=out.steps)
        out.steps(session)
        out.send("done", ended=ended, meta=session.meta)
        return
    from graphstage.tracers.run import trace_script

    session = trace_script(args.script, args.steps, seed=args.seed, values=args.values,
                           fold=False if args.raw else None, progress=out.progress,
                           on_step=out.steps)
    out.steps(session)
    out.send("done", ended="", meta=session.meta)


def main(argv: list[str] | None = None) -> None:
    """Child entry point; always ends with os._exit (no teardown of the user's frameworks)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    out = _Sender(os.fdopen(args.proto_fd, "w", encoding="utf-8"))
    if os.environ.get("GRAPHSTAGE_VERBOSE"):
        import logging

        logging.basicConfig(format="graphstage (tracing): %(name)s: %(message)s")
        logging.getLogger("graphstage").setLevel(logging.DEBUG)
    faulthandler.enable()  # a crash in native code still prints the Python stack to stderr
    code = 0
    try:
        _work(args, script_args, out)
    except BaseException as exc:  # noqa: BLE001 - everything becomes one message to the parent
        code = 1
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        details = (exc.details if hasattr(exc, "details")  # a ScriptError: the user's frames
                   else "".join(traceback.format_exception(exc)))
        try:
            out.send("error", message=str(message).splitlines()[0] if message else "",
                     details=details)
        except Exception:  # noqa: BLE001 - the parent is gone: nothing left to tell
            pass
    try:
        out.stream.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    main()
