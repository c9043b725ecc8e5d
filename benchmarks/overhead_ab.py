"""Tracing overhead of this checkout against a reference checkout, alternated in one process.

    .venv/bin/python benchmarks/overhead_ab.py REF_DIR [--rounds 200] [--examples a,b]

REF_DIR is a checkout of an earlier graphstage whose tracers import as the top-level package
``tracers`` (before the package became ``graphstage``), e.g. ``git worktree add /tmp/ref
10ac546``. Per example: medians of the untraced step, this checkout's traced step and the
reference's traced step, taken in turn so machine drift hits all three alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from graphstage.tracers import torch_tracer
from graphstage.tracers.script import example_path, load_script


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--examples", default="dynamicnet_torch,mnist_mlp_torch")
    args = ap.parse_args()
    sys.path.insert(0, args.ref)
    from tracers import torch_tracer as ref_tracer  # the reference's own module
    from tracers.script import load_script as ref_load

    print(f"{'case':22} {'untraced ms':>12} {'now ms':>9} {'ref ms':>9} {'now x':>7} {'ref x':>7}")
    for name in args.examples.split(","):
        ms, ref_ms = load_script(example_path(name)), ref_load(example_path(name))
        for _ in range(3):
            ms.step()
            torch_tracer.trace(ms, 1)
            ref_tracer.trace(ref_ms, 1)
        plain, now, ref = [], [], []
        rounds = args.rounds if "resnet" not in name else max(5, args.rounds // 20)
        for _ in range(rounds):
            t = time.perf_counter()
            ms.step()
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            torch_tracer.trace(ms, 1)
            now.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref_tracer.trace(ref_ms, 1)
            ref.append(time.perf_counter() - t)
        p, n, r = (statistics.median(x) * 1e3 for x in (plain, now, ref))
        print(f"{name:22} {p:12.2f} {n:9.2f} {r:9.2f} {n / p:7.2f} {r / p:7.2f}", flush=True)


if __name__ == "__main__":
    main()
