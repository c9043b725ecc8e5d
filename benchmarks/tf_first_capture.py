"""TensorFlow first capture vs TensorFlow's own first call, whole process, side by side.

Each case runs in a fresh child process: `untraced` imports TensorFlow, builds the model and
calls its tf.function train step once (TensorFlow traces it, then runs it); `traced` does the
same through graphstage (`trace_script(path, 1)`: the same import, build, TensorFlow's tracing
and run, plus the capture). The two alternate, so machine drift hits both. Models: Keras
applications with weights=None at 64x64x3, batch 2, a GradientTape + Adam step (target from
issue 9: traced <= 1.15x untraced).

    .venv/bin/python benchmarks/tf_first_capture.py [--models MobileNetV2,ResNet50] [--rounds 2]
    .venv/bin/python benchmarks/tf_first_capture.py --profile MobileNetV2   # cProfile, traced

Prints one JSON line per model: medians of the child's wall time (untraced_s, traced_s) and
their ratio, the same for the child's CPU time (user + system; steadier than wall time on a
shared machine), and the traced child's own split (import, setup, capture).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = '''"""A Keras application's train step (benchmarks/tf_first_capture.py)."""
import os

import tensorflow as tf

FRAMEWORK = "tensorflow"
NAME = os.environ["GS_BENCH_MODEL"]


def setup():
    size = int(os.environ.get("GS_BENCH_SIZE", "64"))
    model = getattr(tf.keras.applications, NAME)(weights=None, input_shape=(size, size, 3))
    opt = tf.keras.optimizers.Adam(1e-3)
    x = tf.random.normal((2, size, size, 3))
    y = tf.constant([1, 7])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return {"step": step, "model": model, "optimizer": opt}
'''

CHILD = '''
import json, sys, time
t0 = time.perf_counter()
mode, path = sys.argv[1], sys.argv[2]
if mode == "untraced":
    import importlib.util
    import tensorflow as tf
    t1 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("gs_bench_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    step = mod.setup()["step"]
    t2 = time.perf_counter()
    float(step())
    t3 = time.perf_counter()
else:
    import tensorflow as tf
    from graphstage.tracers.script import load_script
    from graphstage.tracers import tf_tracer
    t1 = time.perf_counter()
    ms = load_script(path)
    t2 = time.perf_counter()
    session = tf_tracer.trace(ms, 1)
    t3 = time.perf_counter()
    assert session.steps[0].number_of_nodes() > 1000
print(json.dumps({"import_s": t1 - t0, "setup_s": t2 - t1, "first_call_s": t3 - t2}))
'''


def run_child(mode: str, path: Path, model: str, profile: Path | None = None) -> dict:
    """Run one case in a fresh interpreter; its wall time and its own split."""
    env = {**os.environ, "GS_BENCH_MODEL": model, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CHILD)
    cmd += [f.name, mode, str(path)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    os.unlink(f.name)
    if res.returncode != 0:
        raise RuntimeError(f"{mode} {model} failed:\n{res.stderr[-3000:]}")
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("{")][-1]
    return {"wall_s": wall, "cpu_s": cpu, **json.loads(line)}


def measure(model: str, rounds: int, path: Path) -> dict:
    """Alternate untraced and traced children; medians and ratio."""
    plain, traced = [], []
    for i in range(rounds):
        order = ("untraced", "traced") if i % 2 == 0 else ("traced", "untraced")
        for mode in order:
            (plain if mode == "untraced" else traced).append(run_child(mode, path, model))
    med = {k: statistics.median(r[k] for r in traced)
           for k in ("import_s", "setup_s", "first_call_s")}
    p = statistics.median(r["wall_s"] for r in plain)
    q = statistics.median(r["wall_s"] for r in traced)
    pc = statistics.median(r["cpu_s"] for r in plain)
    qc = statistics.median(r["cpu_s"] for r in traced)
    return {"model": model, "rounds": rounds, "untraced_s": round(p, 2), "traced_s": round(q, 2),
            "ratio": round(q / p, 3), "untraced_cpu_s": round(pc, 2), "traced_cpu_s": round(qc, 2),
            "cpu_ratio": round(qc / pc, 3),
            "untraced_first_call_s": round(statistics.median(r["first_call_s"] for r in plain),
                                           2),
            "traced_split_s": {k: round(v, 2) for k, v in med.items()},
            "untraced_all_s": [round(r["wall_s"], 2) for r in plain],
            "traced_all_s": [round(r["wall_s"], 2) for r in traced]}


def profile(model: str, path: Path, top: int) -> None:
    """cProfile the traced child; print the graphstage functions by cumulative time."""
    import pstats

    out = Path(tempfile.gettempdir()) / f"gs_first_capture_{model}.prof"
    print(json.dumps(run_child("traced", path, model, profile=out)))
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats("graphstage|tracers", top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="MobileNetV2,ResNet50")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", metavar="MODEL")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "keras_app_tf.py"
        path.write_text(SCRIPT)
        if args.profile:
            profile(args.profile, path, args.top)
            return
        for model in args.models.split(","):
            print(json.dumps(measure(model, args.rounds, path)), flush=True)


if __name__ == "__main__":
    main()
