"""The model zoo table: ops, plain step, traced step, verify result, per model.

    .venv/bin/python benchmarks/zoo.py [--rounds 5] [--models a,b]

Each model runs in a child process of its own: load the script, warm up, then alternate the
untraced step and the traced step (graphstage's tracer, one step) ``rounds`` times and take
medians; then `graphstage verify` on one step. Output: one JSON line per model, then a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "zoo"
MODELS = ["hf_gpt2_torch", "hf_bert_torch", "hf_t5_torch", "resnet18_torch",
          "keras_functional_tf", "keras_mobilenetv2_tf", "resnet18_tf"]


def _path(name: str) -> Path:
    from graphstage.tracers.script import resolve_source

    candidate = ZOO / f"{name}.py"
    return candidate if candidate.exists() else resolve_source(name)


def _steady_tracer(ms):
    """One traced step, steady state: torch traces afresh every step; TensorFlow reuses the
    tracer that captured the function (its first step is paid here, before timing)."""
    if ms.framework == "torch":
        from graphstage.tracers import torch_tracer

        return lambda i: torch_tracer.trace(ms, 1)
    from graphstage.tracers.tf_tracer import FunctionTracer

    tracer = FunctionTracer(ms)
    tracer.step(0)
    return lambda i: tracer.step(i + 1)


def one(name: str, rounds: int) -> dict:
    """Measure one model in this process."""
    from graphstage.tracers.run import trace_script
    from graphstage.tracers.script import load_script
    from graphstage.tracers.verify import verify_script

    path = _path(name)
    ms = load_script(path)
    t = time.perf_counter()
    first = trace_script(ms, 1)  # TF: the first capture traces the function as well
    first_s = time.perf_counter() - t
    traced_step = _steady_tracer(ms)
    ms.step()
    plain, traced = [], []
    for i in range(rounds):
        t = time.perf_counter()
        ms.step()
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        traced_step(i)
        traced.append(time.perf_counter() - t)
    checks = verify_script(path, 1)
    p, q = statistics.median(plain) * 1e3, statistics.median(traced) * 1e3
    return {"model": name, "framework": ms.framework, "ops": first.steps[0].number_of_nodes(),
            "plain_ms": round(p, 1), "traced_ms": round(q, 1), "ratio": round(q / p, 2),
            "first_capture_s": round(first_s, 2),
            "verify": "ok" if all(c.ok for c in checks) else
            f"{sum(len(c.mismatches) for c in checks)} mismatches"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rounds)), flush=True)
        return
    rows = []
    for name in args.models.split(","):
        res = subprocess.run([sys.executable, __file__, "--one", name, "--rounds",
                              str(args.rounds)], capture_output=True, text=True)
        line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
        row = json.loads(line) if line.startswith("{") else {"model": name, "verify": "failed: "
                                                              + res.stderr.strip()[-200:]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| model | framework | ops | plain step ms | traced step ms | ratio | first capture s "
          "| verify |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r.get('framework', '')} | {r.get('ops', '')} | "
              f"{r.get('plain_ms', '')} | {r.get('traced_ms', '')} | {r.get('ratio', '')} | "
              f"{r.get('first_capture_s', '')} | {r['verify']} |")


if __name__ == "__main__":
    main()
