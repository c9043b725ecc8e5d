"""The graphstage command, run as a user runs it: subprocesses, exit codes, one-line errors."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def graphstage(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "graphstage", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_import_is_framework_free():
    code = ("import sys, graphstage, graphstage.tracers, graphstage.viz.cli, "
            "graphstage.viz.graphviz; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', "
            "'PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_trace_writes_a_loadable_file(tmp_path):
    out = tmp_path / "mul.json"
    res = graphstage("trace", "mul_torch", "--steps", 3, "-o", out)
    assert res.returncode == 0, res.stderr
    from graphstage.tracers import TraceSession

    session = TraceSession.load(out)
    assert len(session) == 3 and session.losses() == [300.0] * 3


@pytest.mark.parametrize("script, message", [
    ("tests/models/bad_no_grad_torch.py", "does not require grad"),
    ("tests/models/bad_no_setup_torch.py", "has no setup()"),
    ("tests/models/bad_import_raises_torch.py", "while being imported"),
    ("tests/models/bad_step_raises_torch.py", "step() raised RuntimeError"),
    ("tests/models/missing.py", "no such file"),
    ("no_such_example", "no example named"),
])
def test_bad_scripts_exit_nonzero_with_one_line(tmp_path, script, message):
    res = graphstage("trace", script, "-o", tmp_path / "x.json")
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("graphstage: error:") and message in last
    internal = [ln for ln in res.stderr.splitlines() if ln.strip().startswith("File ")
                and "tests/models" not in ln]
    assert not internal, "graphstage's own frames leaked into the output"


def test_bad_trace_files(tmp_path):
    not_trace = tmp_path / "a.json"
    not_trace.write_text("[1, 2, 3]")
    truncated = tmp_path / "b.json"
    truncated.write_text('{"format": "graphstage-trace", "schema": 1, "steps": [{"gra')
    for path, message in ((not_trace, "not a graphstage trace"), (truncated, "truncated")):
        res = graphstage("export", path, "-o", tmp_path / "out")
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert res.stderr.strip().startswith("graphstage: error:") and message in res.stderr


@pytest.mark.tf
def test_values_and_raw_options_reach_the_tf_tracer(tmp_path):
    from graphstage.tracers import TraceSession

    files = {}
    for name, opts in (("params", ["--values", "params"]), ("all", ["--values", "all", "--raw"])):
        files[name] = tmp_path / f"{name}.json"
        res = graphstage("trace", "mul_tf", "--steps", 1, "-o", files[name], *opts)
        assert res.returncode == 0, res.stderr
    params, every = (TraceSession.load(files[k]).steps[0] for k in ("params", "all"))
    assert params.graph["values_policy"] == "params" and params.graph["fold"] is True
    assert every.graph["values_policy"] == "all" and every.graph["fold"] is False
    ops = {a["op"] for _, a in every.nodes(data=True)}
    assert "ReadVariableOp" in ops and "ReadVariableOp" not in {
        a["op"] for _, a in params.nodes(data=True)}
    fwd = [a for _, a in params.nodes(data=True) if a["kind"] == "op" and a["phase"] == "forward"]
    assert fwd and not any("value" in a for a in fwd)
    assert any("value" in a for _, a in every.nodes(data=True) if a["kind"] == "op")


def test_values_option_refuses_torch_policies_it_cannot_honour(tmp_path):
    res = graphstage("trace", "mul_torch", "--values", "params", "-o", tmp_path / "x.json")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith("graphstage: error:")
    assert "TensorFlow scripts only" in res.stderr
