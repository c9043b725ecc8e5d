"""Tracing overhead of this checkout against a reference checkout, alternated in one process.

    .venv/bin/python benchmarks/overhead_ab.py REF_DIR [--rounds 200] [--examples a,b]

Examples are bundled examples or tests/zoo models (hf_gpt2_torch...).

REF_DIR is a checkout of an earlier graphstage (e.g. ``git worktree add /tmp/ref HEAD`` before
changing anything). Its ``tracers/`` is copied to a temporary package ``ref_tracers`` (its
``graphstage.tracers`` imports rewritten), so both tracers run side by side in this process.
Per example: medians of the untraced step, this checkout's traced step and the reference's
traced step, taken in turn so machine drift hits all three alike.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from graphstage.tracers import torch_tracer
from graphstage.tracers.script import example_path, load_script

ZOO = Path(__file__).resolve().parent.parent / "tests" / "zoo"


def _load_reference(ref: Path):
    """The reference checkout's torch tracer and script loader, imported as ``ref_tracers``."""
    tmp = Path(tempfile.mkdtemp(prefix="graphstage-ref-"))
    shutil.copytree(ref / "tracers", tmp / "ref_tracers")
    for f in (tmp / "ref_tracers").glob("*.py"):
        f.write_text(f.read_text().replace("graphstage.tracers", "ref_tracers"))
    sys.path.insert(0, str(tmp))
    from ref_tracers import torch_tracer  # the reference's own modules
    from ref_tracers.script import load_script as ref_load

    return torch_tracer, ref_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--examples", default="dynamicnet_torch,mnist_mlp_torch")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: this process's CPU time (steadier on a shared machine; use with "
                    "--threads 1)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    ref_tracer, ref_load = _load_reference(Path(args.ref))

    print(f"{'case':22} {'untraced ms':>12} {'now ms':>9} {'ref ms':>9} {'now x':>7} {'ref x':>7}")
    for name in args.examples.split(","):
        path = ZOO / f"{name}.py" if (ZOO / f"{name}.py").exists() else example_path(name)
        ms, ref_ms = load_script(path), ref_load(path)
        for _ in range(3):
            ms.step()
            torch_tracer.trace(ms, 1)
            ref_tracer.trace(ref_ms, 1)
        plain, now, ref = [], [], []
        rounds = args.rounds if not any(k in name for k in ("resnet", "hf_")) else \
            max(5, args.rounds // 20)
        for _ in range(rounds):
            t = clock()
            ms.step()
            plain.append(clock() - t)
            t = clock()
            torch_tracer.trace(ms, 1)
            now.append(clock() - t)
            t = clock()
            ref_tracer.trace(ref_ms, 1)
            ref.append(clock() - t)
        p, n, r = (statistics.median(x) * 1e3 for x in (plain, now, ref))
        print(f"{name:22} {p:12.2f} {n:9.2f} {r:9.2f} {n / p:7.2f} {r / p:7.2f}", flush=True)


if __name__ == "__main__":
    main()
