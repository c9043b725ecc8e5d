"""Process start -> main window shown, for `graphstage --example dynamicnet_torch`.

Runs the app in a fresh subprocess several times (offscreen), reads the time the window was shown
from the app's probe line, and checks that neither torch nor tensorflow was imported by then.
Usage: .venv/bin/python benchmarks/gui_startup.py [runs]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> tuple[float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GRAPHSTAGE_SHOWN_PROBE="1",
               XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="graphstage-bench-"))
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "graphstage", "--example", "dynamicnet_torch"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        for line in proc.stdout:
            if line.startswith("SHOWN"):
                _, ts, fw = line.split()
                return float(ts) - t0, fw.split("=", 1)[1]
        raise RuntimeError("the app never reported its window")
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times, frameworks = [], set()
    for _ in range(runs):
        t, fw = one_run()
        times.append(t)
        frameworks.add(fw)
    print(f"window shown after process start: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {runs} runs "
          f"(target < 1000 ms)")
    print(f"frameworks imported when shown: {', '.join(sorted(frameworks))}")


if __name__ == "__main__":
    main()
