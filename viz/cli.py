"""The ``graphstage`` command: headless ``trace`` / ``export`` / ``run`` / ``verify``, else the GUI.

    graphstage trace SCRIPT --steps N -o trace.json
    graphstage export SCRIPT|TRACE.json --steps N --format svg|png|pdf|dot -o DIR
    graphstage export SCRIPT|TRACE.json --animate --format gif|mp4 [--fps F] -o DIR
    graphstage run TRAINING_SCRIPT.py [--steps N] [-o trace.json] [--finish] [-- ARGS...]
    graphstage verify SCRIPT|TRACE.json [--steps N]
    graphstage [SCRIPT|TRACE.json] [--example NAME] ...      (the desktop app)

Every failure a user can cause ends in one ``graphstage: error: ...`` line and a non-zero exit;
when their own script raised, its traceback (their frames only) is printed above that line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HEADLESS = ("trace", "export", "run", "verify")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in argv:  # graphstage's own log (fallbacks, version checks) on stderr
        import logging
        import os

        argv.remove("--verbose")
        os.environ["GRAPHSTAGE_VERBOSE"] = "1"  # the tracing child logs too
        logging.basicConfig(format="graphstage: %(name)s: %(message)s")
        logging.getLogger("graphstage").setLevel(logging.DEBUG)
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
    script_args: list[str] = []
    if argv[0] == "run" and "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.script_args = script_args
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
    _timeout_option(t)
    _tf_options(t)
    t.set_defaults(func=cmd_trace)

    e = sub.add_parser("export", help="write one graph image (or animation) per step")
    e.add_argument("source", help="model script (.py), example name, or trace .json")
    e.add_argument("--steps", type=int, default=1, help="steps to trace (scripts only)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--format", default=None, choices=("svg", "png", "pdf", "dot", "gif", "mp4"),
                   help="svg (default), png, pdf or dot; gif or mp4 with --animate (and imply it)")
    e.add_argument("--animate", action="store_true",
                   help="write each step's animation (forward, backward, update) as drawn by the "
                   "app, offscreen; --format gif (default) or mp4")
    e.add_argument("--fps", type=float, default=15.0,
                   help="with --animate: frames per second of playback (default 15)")
    e.add_argument("--collapse-depth", type=int, default=None,
                   help="collapse scopes deeper than N (default: graphs over 400 nodes fold "
                        "like the app's opening view)")
    e.add_argument("--expand-all", action="store_true",
                   help="draw every op, however big (use --format svg for full graphs; PNGs are "
                        "capped at 8,000 px a side)")
    e.add_argument("-o", "--output", default="graphstage-export", help="output folder")
    _timeout_option(e)
    _tf_options(e)
    e.set_defaults(func=cmd_export)

    r = sub.add_parser("run", help="run an unmodified training script and record its first "
                       "steps", description="Run a training script as __main__ (arguments after "
                       "-- go to it), record its first N training steps (PyTorch: a step ends "
                       "at each optimizer step()), then stop the script, or let it finish with "
                       "--finish (it runs on unhooked). Opens the app on what was recorded, or "
                       "writes it with -o.")
    r.add_argument("script", help="the training script (.py)")
    r.add_argument("--steps", type=int, default=5, help="steps to record (default 5)")
    r.add_argument("-o", "--output", default=None, help="write the trace here instead of "
                   "opening the app")
    r.add_argument("--finish", action="store_true", help="let the script run to its end after "
                   "the recorded steps")
    _timeout_option(r)
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("verify", help="check a trace against independent records of the same "
                       "run (autograd walk and ATen log; the tf.function's own graph)")
    v.add_argument("source", help="model script (.py), example name, or trace .json")
    v.add_argument("--steps", type=int, default=2, help="steps to check (scripts only)")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=cmd_verify)
    return ap


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=0, metavar="S",
                   help="stop the traced code after S seconds (default: no limit); it runs in "
                   "a child process, so an exit, crash or hang never takes graphstage down")


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
    """Trace in a child process: the user's code cannot take the command down with it."""
    from graphstage.tracers.isolated import trace_isolated
    from graphstage.tracers.script import resolve_source

    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    path = resolve_source(source)
    bar = _Progress(f"tracing {path.name}")
    try:
        session = trace_isolated(path, args.steps, seed=args.seed, progress=bar.update,
                                 values=args.values, raw=args.raw, timeout=args.timeout or None,
                                 echo=True)
    finally:
        bar.done()
    return session


def cmd_trace(args: argparse.Namespace) -> int:
    """graphstage trace: run N steps under the tracer and save the session (the steps made
    before a failure are saved too, and the failure still ends the command non-zero)."""
    from graphstage.tracers.isolated import TraceFailed

    try:
        session = _trace(args.script, args)
    except TraceFailed as exc:
        if exc.session is not None and exc.session.steps:
            exc.session.save(args.output)
            print(f"{args.output}: kept the {len(exc.session)} steps traced before the failure",
                  file=sys.stderr)
        raise
    out = session.save(args.output)
    sizes = [g.number_of_nodes() for g in session.steps]
    print(f"{out}: {len(session)} steps of {session.model} ({session.framework}), "
          f"{min(sizes)}-{max(sizes)} nodes per step, final loss {session.losses()[-1]}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """graphstage export: one image per step, each marked with its diff to the step before, or
    with --animate one GIF/MP4 per step."""
    from graphstage.tracers.script import resolve_source
    from graphstage.tracers.session import TraceSession
    from graphstage.viz.export import export_session

    animate = args.animate or args.format in ("gif", "mp4")
    fmt = args.format or ("gif" if animate else "svg")
    if animate and fmt not in ("gif", "mp4"):
        raise ValueError(f"--animate writes gif or mp4, not {fmt}")
    if animate and not 0 < args.fps <= 50:
        raise ValueError("--fps must be in (0, 50]")
    source = resolve_source(args.source)
    if source.suffix == ".json":
        session = TraceSession.load(source)
    else:
        session = _trace(str(source), args)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    if animate:
        return _export_animations(session, out_dir, fmt, args.fps)
    bar = _Progress(f"exporting {fmt}")
    paths = export_session(session, out_dir, fmt, progress=bar.update,
                           collapse_depth=args.collapse_depth, expand_all=args.expand_all)
    bar.done()
    print(f"{out_dir}: {len(paths)} {fmt} file(s) of {session.model}")
    return 0


def _export_animations(session, out_dir: Path, fmt: str, fps: float) -> int:
    """--animate: each step's animation, drawn by the app's graph pane offscreen."""
    import os

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qInstallMessageHandler

    from graphstage.viz.gui.app import _qt_message
    from graphstage.viz.gui.export import export_session_animations

    qInstallMessageHandler(_qt_message)
    bar = _Progress(f"animating {fmt}")
    paths = export_session_animations(session, out_dir, fmt, fps=fps, progress=bar.update)
    bar.done()
    print(f"{out_dir}: {len(paths)} {fmt} animation(s) of {session.model}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """graphstage verify: one line per step, every mismatch listed; exit 1 on any."""
    from graphstage.tracers.verify import verify_script

    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    checks = verify_script(args.source, args.steps, seed=args.seed)
    for c in checks:
        print(f"step {c.step}: {'ok' if c.ok else f'{len(c.mismatches)} mismatches'} "
              f"({c.backward_nodes} backward nodes, {c.forward_ops} forward ops, "
              f"{c.aten_ops} independent records)")
        for m in c.mismatches:
            print(f"  {m}")
    return 0 if all(c.ok for c in checks) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """graphstage run: record an unmodified training script's first steps."""
    import os

    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    from graphstage.tracers.isolated import trace_isolated

    if not Path(args.script).is_file():
        raise ValueError(f"{args.script}: no such file")
    session = trace_isolated(args.script, args.steps, run_args=args.script_args,
                             finish=args.finish, timeout=args.timeout or None, echo=True)
    ended = session.meta.get("ended", "")
    print(f"graphstage: recorded {len(session)} steps of {Path(args.script).name}; {ended}",
          file=sys.stderr)
    if args.output is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        args.output = f"{Path(args.script).stem}.trace.json"
        print("graphstage: no display: writing the trace instead of opening the app",
              file=sys.stderr)
    if args.output:
        out = session.save(args.output)
        print(f"{out}: {len(session)} steps of {session.model} ({session.framework})")
        return 0
    from graphstage.viz.gui.app import show_window

    show_window(session)
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
        if exc.details and not getattr(exc, "crashed", False):  # a crash's output was echoed
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
