"""Trace file I/O: save and load times and file size of a 100-step dynamicnet_torch trace.

Runs the current tracers/session.py and, side by side, the one on another git revision (default
``main``; the old writer and reader, loaded from ``git show REV:tracers/session.py``), rounds
alternated after a warm-up, and prints the median save and load times and the file sizes.

    .venv/bin/python benchmarks/tracefile_io.py [--steps 100] [--rounds 7] [--old main]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graphstage.tracers import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.tracers.session import TraceSession  # noqa: E402


def old_session_class(rev: str, tmp: Path) -> type | None:
    """TraceSession as written on git revision ``rev`` (None when git cannot show it)."""
    try:
        src = subprocess.run(["git", "show", f"{rev}:tracers/session.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = tmp / "old_session.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_session", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_session"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module.TraceSession


def time_io(cls: type, session: TraceSession, path: Path) -> tuple[float, ...]:
    """Wall and CPU seconds to save ``session`` with ``cls`` and to load it back (CPU time is
    the steadier figure on a shared machine)."""
    as_cls = cls(framework=session.framework, model=session.model, steps=session.steps,
                 metrics=session.metrics, meta=session.meta)
    w0, c0 = time.perf_counter(), time.process_time()
    as_cls.save(path)
    w1, c1 = time.perf_counter(), time.process_time()
    back = cls.load(path)
    w2, c2 = time.perf_counter(), time.process_time()
    assert len(back.steps) == len(session.steps)
    return w1 - w0, w2 - w1, c1 - c0, c2 - c1


def measure(classes: dict[str, type], session: TraceSession, tmp: Path, rounds: int) -> dict:
    """Median save/load seconds and file size per class, rounds alternated (after a warm-up)."""
    times: dict[str, list] = {name: [] for name in classes}
    for r in range(rounds + 1):
        for name, cls in classes.items():
            t = time_io(cls, session, tmp / f"{name.split()[0]}.json")
            if r:
                times[name].append(t)
    return {name: {**{k: statistics.median(t[i] for t in ts)
                      for i, k in enumerate(("save", "load", "save_cpu", "load_cpu"))},
                   "mb": (tmp / f"{name.split()[0]}.json").stat().st_size / 1e6}
            for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--old", default="main", help="git revision of the old session.py")
    args = ap.parse_args()
    session = trace_script(example_path("dynamicnet_torch"), steps=args.steps, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        classes = {"new": TraceSession}
        old = old_session_class(args.old, tmp_path)
        if old is not None:
            classes[f"old ({args.old})"] = old
        rows = measure(classes, session, tmp_path, args.rounds)
    print(f"dynamicnet_torch, {args.steps} steps, median of {args.rounds} rounds")
    for name, r in rows.items():
        print(f"  {name:<12} save {r['save'] * 1e3:6.1f} ms (cpu {r['save_cpu'] * 1e3:6.1f})"
              f"   load {r['load'] * 1e3:6.1f} ms (cpu {r['load_cpu'] * 1e3:6.1f})"
              f"   {r['mb']:.2f} MB")


if __name__ == "__main__":
    main()
