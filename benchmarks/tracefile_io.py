"""Trace file I/O: save and load times and file size of a 100-step dynamicnet_torch trace.

Runs the current tracers/session.py and, side by side, the one on another git revision (default
``main``; the old writer and reader, loaded from ``git show REV:tracers/session.py``), each
several times, and prints the median save and load times and the file sizes.

    .venv/bin/python benchmarks/tracefile_io.py [--steps 100] [--rounds 5] [--old main]
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


def measure(cls: type, session: TraceSession, path: Path, rounds: int) -> dict:
    """Median save and load seconds of ``session`` written and read with ``cls``."""
    as_cls = cls(framework=session.framework, model=session.model, steps=session.steps,
                 metrics=session.metrics, meta=session.meta)
    saves, loads = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        as_cls.save(path)
        t1 = time.perf_counter()
        back = cls.load(path)
        t2 = time.perf_counter()
        saves.append(t1 - t0)
        loads.append(t2 - t1)
    assert len(back.steps) == len(session.steps)
    return {"save_s": statistics.median(saves), "load_s": statistics.median(loads),
            "mb": path.stat().st_size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old", default="main", help="git revision of the old session.py")
    args = ap.parse_args()
    session = trace_script(example_path("dynamicnet_torch"), steps=args.steps, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows = {"new": measure(TraceSession, session, tmp_path / "new.json", args.rounds)}
        old = old_session_class(args.old, tmp_path)
        if old is not None:
            rows[f"old ({args.old})"] = measure(old, session, tmp_path / "old.json", args.rounds)
    print(f"dynamicnet_torch, {args.steps} steps, median of {args.rounds} rounds")
    for name, r in rows.items():
        print(f"  {name:<12} save {r['save_s'] * 1e3:7.1f} ms   load {r['load_s'] * 1e3:7.1f} ms"
              f"   {r['mb']:.2f} MB")


if __name__ == "__main__":
    main()
