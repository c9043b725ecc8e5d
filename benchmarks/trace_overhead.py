"""Tracing overhead: untraced vs traced training steps, alternated in one process.

Prints, per example, the median untraced and traced step time and their ratio (targets from the
issues: resnet18_torch <= 1.5, dynamicnet_torch <= 4), then the cost of saving a 100-step
dynamicnet trace (target: < 1 s, < 5 MB). TensorFlow cases come from benchmarks/tf_overhead.py
(target: steady state <= 1.2, first capture of resnet18_tf < 3 s), run in a child process
when TensorFlow is available.

    .venv/bin/python benchmarks/trace_overhead.py [--rounds N] [--no-tf]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graphstage.tracers import trace_script  # noqa: E402
from graphstage.tracers.script import example_path, load_script  # noqa: E402

TORCH_CASES = {"resnet18_torch": 12, "dynamicnet_torch": 300}  # default rounds per case


def measure_torch(name: str, rounds: int) -> dict:
    """Median untraced and traced step time, alternating A and B to cancel machine drift."""
    from graphstage.tracers import torch_tracer

    ms = load_script(example_path(name))
    for _ in range(3):  # warm up allocator, kernels, lazy imports
        ms.step()
        torch_tracer.trace(ms, 1)
    plain, traced = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        ms.step()
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        torch_tracer.trace(ms, 1)
        traced.append(time.perf_counter() - t)
    p, q = statistics.median(plain) * 1e3, statistics.median(traced) * 1e3
    return {"name": name, "untraced_ms": p, "traced_ms": q, "ratio": q / p}


def measure_save(steps: int = 100) -> dict:
    """Trace dynamicnet for ``steps`` steps and time saving it to JSON."""
    session = trace_script(example_path("dynamicnet_torch"), steps)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        t = time.perf_counter()
        session.save(path)
        save_s = time.perf_counter() - t
        size = path.stat().st_size
        t = time.perf_counter()
        type(session).load(path)
        load_s = time.perf_counter() - t
    return {"steps": steps, "save_s": save_s, "load_s": load_s, "mb": size / 1e6}


def _tf_rows(rounds: int) -> list[dict]:
    """The TensorFlow cases, run first in a child process of their own: a TensorFlow user's
    process holds no PyTorch thread pools competing for the same cores."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.tf_overhead import run_tf_cases; "
            "print(json.dumps(run_tf_cases(int(sys.argv[2]))))")
    res = subprocess.run([sys.executable, "-c", code, str(ROOT), str(rounds)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"(TensorFlow cases skipped: {tail})")
        return []
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=0, help="rounds per case (default per case)")
    ap.add_argument("--no-tf", action="store_true", help="skip the TensorFlow cases")
    args = ap.parse_args()
    rows = [] if args.no_tf else _tf_rows(args.rounds)
    rows[:0] = [measure_torch(name, args.rounds or n) for name, n in TORCH_CASES.items()]
    print(f"{'case':<22}{'untraced ms':>12}{'traced ms':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r['name']:<22}{r['untraced_ms']:>12.2f}{r['traced_ms']:>12.2f}{r['ratio']:>8.2f}"
              + (f"   first capture {r['first_capture_s']:.2f} s" if "first_capture_s" in r
                 else ""))
    s = measure_save()
    print(f"save {s['steps']}-step dynamicnet trace: {s['save_s']:.3f} s, {s['mb']:.2f} MB "
          f"(load {s['load_s']:.3f} s)")


if __name__ == "__main__":
    main()
