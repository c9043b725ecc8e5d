"""TensorFlow tracing overhead: untraced vs traced steps of the bundled TF examples.

Both are measured in one process, alternately (untraced step, traced step, ...), after
TensorFlow's own first trace, and reported as medians and their ratio. "traced" is one full
tracer step: running the captured concrete function with value summaries attached, decoding
them and building the step graph (contract validation in TraceSession is not included).
"1st capture" is converting the concrete function and building its instrumented runner;
"1st step" adds the runner's first execution, where TensorFlow optimises the new function once
(and its profiler records the op order); "2nd step" is the first reuse, where the tracer builds
the runner that summarises in-graph. Measuring starts after WARMUP more steps of each kind.

    .venv/bin/python benchmarks/tf_overhead.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from graphstage.tracers.script import example_path, load_script  # noqa: E402
from graphstage.tracers.tf_env import import_tf  # noqa: E402

CASES = {"dynamicnet_tf": 300, "mnist_mlp_tf": 100, "resnet18_tf": 10}  # default rounds per case
WARMUP = 3  # traced and untraced steps run before measuring (the reducing runner is built here)


def run_case(name: str, rounds: int) -> dict:
    """Median untraced and traced step times (ms) of one example, plus first-capture seconds."""
    import_tf()
    from graphstage.tracers.tf_tracer import FunctionTracer

    ms = load_script(example_path(name))
    tracer = FunctionTracer(ms)
    def plain_step() -> object:
        return tracer.target(0)

    plain_step()  # TensorFlow's own first trace (and one real step)
    t0 = time.perf_counter()
    tracer.step(0)  # the first capture: convert the concrete function, build its runner
    first_step = time.perf_counter() - t0
    first_capture = tracer.last.first_capture_s if tracer.last else first_step
    t0 = time.perf_counter()
    tracer.step(1)  # TensorFlow reuses the function: the tracer builds its reducing runner
    second_step = time.perf_counter() - t0
    for i in range(WARMUP):
        _block(plain_step())
        tracer.step(2 + i)
    untraced, traced = [], []
    for i in range(rounds):
        t0 = time.perf_counter()
        out = plain_step()
        _block(out)
        untraced.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        tracer.step(i + 2 + WARMUP)
        traced.append((time.perf_counter() - t0) * 1000)
    u, t = statistics.median(untraced), statistics.median(traced)
    return {"name": name, "untraced_ms": u, "traced_ms": t, "ratio": t / u,
            "first_capture_s": first_capture, "first_traced_step_s": first_step,
            "second_traced_step_s": second_step,
            "rounds": rounds,
            "nodes": tracer.last.template.graph.number_of_nodes() if tracer.last else 0}


def _block(out: object) -> None:
    """Wait for the step's result (eager tensors are ready once numpy() returns)."""
    import tensorflow as tf

    for t in tf.nest.flatten(out):
        if hasattr(t, "numpy"):
            t.numpy()


def run_tf_cases(rounds: int = 0) -> list[dict]:
    """Per example: untraced and traced median ms, ratio, first-capture seconds (rounds 0:
    each case's default)."""
    return [run_case(name, rounds or n) for name, n in CASES.items()]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    print(f"{'example':<16}{'untraced ms':>12}{'traced ms':>12}{'ratio':>8}{'1st capture s':>15}"
          f"{'1st step s':>12}{'2nd step s':>12}{'nodes':>7}")
    for r in run_tf_cases(rounds):
        print(f"{r['name']:<16}{r['untraced_ms']:>12.2f}{r['traced_ms']:>12.2f}"
              f"{r['ratio']:>8.2f}{r['first_capture_s']:>15.2f}{r['first_traced_step_s']:>12.2f}"
              f"{r['second_traced_step_s']:>12.2f}{r['nodes']:>7}")


if __name__ == "__main__":
    main()
