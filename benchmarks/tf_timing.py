"""TensorFlow op durations: what profiling costs per step, and how the measured durations
compare with the untraced step.

Per model, in one process: the untraced step, and traced steps with timing "off" (only the
first run profiled, for the order), "once" (the default: the first 3 runs profiled, later
ones not) and "every" (every run profiled), each a FunctionTracer of its own on the same
script; untraced and traced steps alternate after WARMUP steps. Coverage: the share of the
executed op nodes with `duration_us` (and the share the profiler measured rather than filled
with 0 for ops Grappler removed); sum ratio: the summed `duration_us` over the untraced median.
Prints one JSON line per model.

    .venv/bin/python benchmarks/tf_timing.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from graphstage.tracers.script import example_path, load_script  # noqa: E402
from graphstage.tracers.tf_env import import_tf  # noqa: E402

CASES = {"dynamicnet_tf": 40, "resnet18_tf": 5}  # default rounds per case
MODES = ("off", "once", "every")
WARMUP = 4  # traced steps before measuring: "once" has profiled its 3 runs by then
SOURCES = {"input", "parameter", "constant"}


def _block(out: object) -> None:
    import tensorflow as tf

    for t in tf.nest.flatten(out):
        if hasattr(t, "numpy"):
            t.numpy()


def _coverage(g: object) -> dict:
    """Coverage, measured share and summed duration (ms) of one step graph."""
    ran = [a for a in g.nodes.values() if a["order"] >= 0 and a["kind"] not in SOURCES]
    timed = [a for a in ran if "duration_us" in a]
    return {"coverage": len(timed) / max(len(ran), 1),
            "measured": g.graph.get("timed_ops", 0) / max(len(ran), 1),
            "sum_ms": sum(a["duration_us"] for a in timed) / 1000, "ops": len(ran)}


def run_case(name: str, rounds: int) -> dict:
    """One model's figures (see the module docstring)."""
    import_tf()
    from graphstage.tracers.tf_tracer import FunctionTracer

    ms = load_script(example_path(name))
    tracers = {}
    for mode in MODES:
        ms.extras["timing"] = mode
        tracers[mode] = FunctionTracer(ms)
    fn, args = tracers["off"].target.fn, tracers["off"]._args(0)
    _block(fn(*args))  # TensorFlow's own first trace
    first_steps = {m: [] for m in MODES}
    for mode, tracer in tracers.items():
        for i in range(WARMUP):
            t0 = time.perf_counter()
            tracer.step(i)
            first_steps[mode].append(round((time.perf_counter() - t0) * 1000, 1))
    untraced: list[float] = []
    traced: dict[str, list[float]] = {m: [] for m in MODES}
    sums: dict[str, list[dict]] = {m: [] for m in MODES}
    for i in range(rounds):
        for mode, tracer in tracers.items():
            t0 = time.perf_counter()
            _block(fn(*args))
            untraced.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            g = tracer.step(WARMUP + i)[0]
            traced[mode].append((time.perf_counter() - t0) * 1000)
            sums[mode].append(_coverage(g))
    u = statistics.median(untraced)
    out = {"model": name, "rounds": rounds, "untraced_ms": round(u, 3)}
    out.update({f"traced_{m}_ms": round(statistics.median(traced[m]), 3) for m in MODES})
    out["first_steps_ms"] = first_steps
    for mode in ("once", "every"):
        cov = sums[mode][-1]
        out[mode] = {"coverage": round(cov["coverage"], 3), "measured": round(cov["measured"], 3),
                     "ops": cov["ops"],
                     "sum_ms": round(statistics.median(c["sum_ms"] for c in sums[mode]), 3)}
        out[mode]["sum_ratio"] = round(out[mode]["sum_ms"] / u, 3)
    return out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    for name, n in CASES.items():
        print(json.dumps(run_case(name, rounds or n)), flush=True)


if __name__ == "__main__":
    main()
