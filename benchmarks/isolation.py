"""Cancel latency and crash-to-message time of tracing in a child process (issue 12).

    python benchmarks/isolation.py [--rounds 5]

Cancel: a flag is raised while the child sits in setup() (a hang) or inside a slow step; the
figure is the time from the flag to TraceCancelled. Crash: the child prints a timestamp and
segfaults in its second step; the figure is the time from that stamp to TraceFailed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.isolated import TraceFailed, trace_isolated

HANG = "import time\nimport torch\n\ndef setup():\n    while True:\n        time.sleep(0.01)\n"
SLOW = ("import time\nimport torch\n\ndef setup():\n    w = torch.ones(3, requires_grad=True)\n"
        "    def step():\n        time.sleep(30)\n        loss = (w * 2).sum()\n"
        "        loss.backward()\n        return loss\n    return step\n")
CRASH = ("import ctypes, sys, time\nimport torch\n\ndef setup():\n"
         "    w = torch.ones(3, requires_grad=True)\n    n = [0]\n    def step():\n"
         "        n[0] += 1\n        if n[0] == 2:\n"
         "            print('CRASH', time.time(), file=sys.stderr, flush=True)\n"
         "            ctypes.string_at(0)\n"
         "        loss = (w * 2).sum()\n        loss.backward()\n        return loss\n"
         "    return step\n")


def cancel_latency(script: Path, after_s: float) -> float:
    start, raised = time.monotonic(), []

    def cancel() -> bool:
        if time.monotonic() - start > after_s:
            raised.append(raised[0] if raised else time.monotonic())
            return True
        return False

    try:
        trace_isolated(script, 2, cancel=cancel)
    except TraceCancelled:
        return time.monotonic() - raised[0]
    raise RuntimeError("the trace was not cancelled")


def crash_to_message(script: Path) -> float:
    try:
        trace_isolated(script, 3)
    except TraceFailed as exc:
        now = time.time()
        stamp = next(float(line.split()[1]) for line in exc.details.splitlines()
                     if line.startswith("CRASH "))
        return now - stamp
    raise RuntimeError("the crash was not reported")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="graphstage-iso-"))
    scripts = {}
    for name, text in (("hang_torch.py", HANG), ("slow_torch.py", SLOW), ("crash_torch.py", CRASH)):
        scripts[name] = folder / name
        scripts[name].write_text(text)
    figures = {"cancel_in_setup_s": [], "cancel_in_step_s": [], "crash_to_message_s": []}
    for _ in range(args.rounds):
        figures["cancel_in_setup_s"].append(cancel_latency(scripts["hang_torch.py"], 2.0))
        figures["cancel_in_step_s"].append(cancel_latency(scripts["slow_torch.py"], 5.0))
        figures["crash_to_message_s"].append(crash_to_message(scripts["crash_torch.py"]))
    print(json.dumps({k: {"median": round(statistics.median(v), 3), "max": round(max(v), 3)}
                      for k, v in figures.items()}))


if __name__ == "__main__":
    main()
