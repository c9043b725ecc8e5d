"""graphstage verify: check traces against independent records of the same run.

PyTorch (tracers/torch_verify.py): the autograd graph walked from the backward roots, and an
ATen op log from a TorchDispatchMode. TensorFlow (tracers/tf_verify.py): the concrete
function's own graph. A saved trace is re-traced from its script and compared step by step.
"""

from __future__ import annotations

import os
from pathlib import Path

from graphstage.tracers.contract import structure_signature
from graphstage.tracers.script import load_script, resolve_source
from graphstage.tracers.session import TraceSession
from graphstage.tracers.torch_verify import StepCheck


def verify_script(source: str | os.PathLike, steps: int = 1, *, seed: int = 0) -> list[StepCheck]:
    """Trace ``steps`` steps of a model script (or example) and check each step."""
    path = resolve_source(source)
    if path.suffix == ".json":
        return verify_trace(path)
    ms = load_script(path, seed=seed)
    if ms.framework == "torch":
        from graphstage.tracers.torch_verify import verify

        return verify(ms, steps)
    from graphstage.tracers.tf_verify import check

    return check(ms, steps)


def verify_trace(path: str | os.PathLike) -> list[StepCheck]:
    """Re-trace a saved trace's script with its seed and compare each step's structure."""
    session = TraceSession.load(path)
    script = session.meta.get("script")
    if not script or not Path(script).is_file():
        raise ValueError(f"{path}: the trace does not name a script that exists here "
                         f"({script!r}); verify the script itself instead")
    from graphstage.tracers.run import trace_script

    again = trace_script(script, len(session), seed=int(session.meta.get("seed", 0)))
    checks = []
    for i, (saved, fresh) in enumerate(zip(session.steps, again.steps, strict=True)):
        check = StepCheck(i, 0, saved.number_of_nodes(), fresh.number_of_nodes())
        if structure_signature(saved) != structure_signature(fresh):
            lost = sorted(set(fresh) - set(saved))[:5]
            extra = sorted(set(saved) - set(fresh))[:5]
            check.mismatches.append(f"step {i}: structure differs from a fresh trace (missing "
                                    f"{lost or '-'}, extra {extra or '-'})")
        checks.append(check)
    return checks


def assert_verified(source: str | os.PathLike, steps: int = 1) -> list[StepCheck]:
    """Test helper: verify and fail with every mismatch listed."""
    checks = verify_script(source, steps)
    bad = [f"step {c.step}: {m}" for c in checks for m in c.mismatches]
    if bad:
        raise AssertionError(f"{source}: {len(bad)} mismatches\n" + "\n".join(bad))
    return checks
