"""graphstage as users install it: the wheel's contents, the command and the API from a wheel
install in a bare folder, and the layering rules (import-linter) on the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (no build isolation: the test venv's setuptools)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("graphstage-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed with --no-deps into a throwaway target folder."""
    target = tmp_path_factory.mktemp("target")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    return target


def _run(args: list[str], target: Path, cwd: Path, timeout: float = 300):
    env = dict(os.environ, PYTHONPATH=str(target), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_wheel_installs_only_graphstage(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"graphstage", "graphstage-0.1.0.dist-info"}
    examples = {Path(n).stem for n in names if n.startswith("graphstage/assets/examples/")}
    assert {p.stem for p in (ROOT / "assets" / "examples").glob("*.py")} <= examples
    modules = {n for n in names if n.endswith(".py")}
    for folder, package in (("tracers", "graphstage/tracers"), ("viz", "graphstage/viz")):
        for src in (ROOT / folder).rglob("*.py"):
            assert f"{package}/{src.relative_to(ROOT / folder).as_posix()}" in modules


def test_wheel_install_traces_and_exports_from_any_folder(installed, tmp_path):
    py = sys.executable
    where = _run([py, "-c", "import graphstage; print(graphstage.__file__)"], installed, tmp_path)
    assert where.stdout.strip().startswith(str(installed)), where.stderr
    res = _run([py, "-m", "graphstage", "trace", "mul_torch", "--steps", "2", "-o", "mul.json"],
               installed, tmp_path)
    assert res.returncode == 0, res.stderr
    res = _run([py, "-m", "graphstage", "export", "mul.json", "--format", "svg", "-o", "cli"],
               installed, tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["step_0000.svg",
                                                                     "step_0001.svg"]
    api = ("import graphstage\n"
           "s = graphstage.trace_script('linreg_torch', 2)\n"
           "print(len(graphstage.export(s, 'api', format='svg')))\n")
    res = _run([py, "-c", api], installed, tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == "2", res.stderr
    # the console script the wheel declares, and the app's --example lookup
    script = installed / "bin" / "graphstage"
    res = _run([py, str(script), "--example", "mul_torch", "--steps", "1", "--screenshot",
                "shot.png"], installed, tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def _lint(package_root: Path):
    return subprocess.run([*LINT_IMPORTS, "--no-cache", str(PYPROJECT)], cwd=package_root,
                          env=dict(os.environ, PYTHONPATH=str(package_root)),
                          capture_output=True, text=True, timeout=120)


def test_layering_contracts_hold(installed):
    res = _lint(installed)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 kept, 0 broken" in res.stdout


def test_layering_check_catches_imports_inside_functions(installed, tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(installed / "graphstage", copy / "graphstage")
    with open(copy / "graphstage" / "tracers" / "contract.py", "a") as fh:
        fh.write("\n\ndef _bad():\n    from PySide6 import QtCore  # noqa\n    return QtCore\n")
    with open(copy / "graphstage" / "viz" / "dot.py", "a") as fh:
        fh.write("\n\ndef _bad():\n    import torch  # noqa\n    return torch\n")
    with open(copy / "graphstage" / "viz" / "export.py", "a") as fh:
        fh.write("\n\ndef _bad():\n    import graphstage.viz.gui.canvas  # noqa\n")
    res = _lint(copy)
    assert res.returncode != 0
    assert "0 kept, 3 broken" in res.stdout, res.stdout
    assert "graphstage.tracers.contract -> PySide6" in res.stdout
    assert "graphstage.viz.dot -> torch" in res.stdout
