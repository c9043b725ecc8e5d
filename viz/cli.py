"""The ``graphstage`` command: headless ``trace`` / ``export`` subcommands, else the GUI.

    graphstage trace SCRIPT --steps N -o trace.json
    graphstage export SCRIPT|TRACE.json --steps N --format svg|png|pdf|dot -o DIR
    graphstage [SCRIPT|TRACE.json] [--example NAME] ...      (the desktop app)

Every failure a user can cause ends in one ``graphstage: error: ...`` line and a non-zero exit;
when their own script raised, its traceback (their frames only) is printed above that line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HEADLESS = ("trace", "export")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in HEADLESS:
        if argv and argv[0] in ("-h", "--help"):
            _parser().print_help()
            print("\nWithout a subcommand graphstage opens the desktop app "
                  "(graphstage --help-gui lists its options).")
            return 0
        if argv and argv[0] == "--help-gui":
            argv[0] = "--help"
        from graphstage.viz.gui.app import main as gui_main

        return gui_main(argv)
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ngraphstage: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - anything left is reported in one line
        return _report(exc)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="graphstage", description="Trace, export and watch the "
                                 "graphs PyTorch and TensorFlow build in a training step.")
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("trace", help="trace a model script's training steps to a JSON file")
    t.add_argument("script", help="model script (.py) or example name")
    t.add_argument("--steps", type=int, default=10, help="training steps to trace (default 10)")
    t.add_argument("--seed", type=int, default=0, help="seed for random/numpy/torch/tf")
    t.add_argument("-o", "--output", default="trace.json", help="trace file to write")
    _tf_options(t)
    t.set_defaults(func=cmd_trace)

    e = sub.add_parser("export", help="write one graph image per step")
    e.add_argument("source", help="model script (.py), example name, or trace .json")
    e.add_argument("--steps", type=int, default=1, help="steps to trace (scripts only)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--format", default="svg", choices=("svg", "png", "pdf", "dot"))
    e.add_argument("--collapse-depth", type=int, default=None,
                   help="collapse scopes deeper than N (default: graphs over 400 nodes fold "
                        "like the app's opening view)")
    e.add_argument("--expand-all", action="store_true",
                   help="draw every op, however big (use --format svg for full graphs; PNGs are "
                        "capped at 8,000 px a side)")
    e.add_argument("-o", "--output", default="graphstage-export", help="output folder")
    _tf_options(e)
    e.set_defaults(func=cmd_export)
    return ap


def _tf_options(p: argparse.ArgumentParser) -> None:
    from graphstage.tracers.run import VALUE_POLICIES

    p.add_argument("--values", choices=VALUE_POLICIES, default=None,
                   help="TensorFlow: which tensors get per-step value summaries (default: the "
                   "script's choice, else auto: variables, gradients, inputs, outputs, loss in "
                   "full, intermediates as mean/std/norm)")
    p.add_argument("--raw", action="store_true",
                   help="TensorFlow: keep resource placeholders and ReadVariableOps instead of "
                   "folding them into their variables")


def _trace(source: str, args: argparse.Namespace):
    from graphstage.tracers import trace_script
    from graphstage.tracers.script import resolve_source

    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    path = resolve_source(source)
    bar = _Progress(f"tracing {path.name}")
    session = trace_script(path, args.steps, seed=args.seed, progress=bar.update,
                           values=args.values, fold=False if args.raw else None)
    bar.done()
    return session


def cmd_trace(args: argparse.Namespace) -> int:
    """graphstage trace: run N steps under the tracer and save the session."""
    session = _trace(args.script, args)
    out = session.save(args.output)
    sizes = [g.number_of_nodes() for g in session.steps]
    print(f"{out}: {len(session)} steps of {session.model} ({session.framework}), "
          f"{min(sizes)}-{max(sizes)} nodes per step, final loss {session.losses()[-1]}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """graphstage export: one image per step, each marked with its diff to the step before."""
    from graphstage.tracers.script import resolve_source
    from graphstage.tracers.session import TraceSession
    from graphstage.viz.export import export_session

    source = resolve_source(args.source)
    if source.suffix == ".json":
        session = TraceSession.load(source)
    else:
        session = _trace(str(source), args)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = _Progress(f"exporting {args.format}")
    paths = export_session(session, out_dir, args.format, progress=bar.update,
                           collapse_depth=args.collapse_depth, expand_all=args.expand_all)
    bar.done()
    print(f"{out_dir}: {len(paths)} {args.format} file(s) of {session.model}")
    return 0


class _Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if self.tty:
            width = 24
            filled = int(width * done / max(total, 1))
            sys.stderr.write(f"\r{self.title} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{done}/{total} {message[:60]:<60}")
            sys.stderr.flush()
        elif done == total or now - self.last > 2.0:
            print(f"{self.title}: {done}/{total} {message}", file=sys.stderr)
            self.last = now

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def _report(exc: Exception) -> int:
    """Print one clear line (plus the user's own traceback if their script raised)."""
    from graphstage.tracers.contract import ContractError
    from graphstage.tracers.script import ScriptError
    from graphstage.tracers.session import TraceFileError
    from graphstage.viz.graphviz import GraphvizError

    if isinstance(exc, ScriptError):
        if exc.details:
            print("Traceback of your script:\n" + exc.details.rstrip(), file=sys.stderr)
        message = exc.message
    elif isinstance(exc, (TraceFileError, GraphvizError, ContractError, OSError, ValueError)):
        message = str(exc)
    else:
        message = f"internal error: {type(exc).__name__}: {exc} (please report this)"
    print(f"graphstage: error: {message.splitlines()[0] if message else type(exc).__name__}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
