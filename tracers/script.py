"""Model scripts: the one file format for bundled examples and users' own models.

A model script is a Python file with a ``setup()`` function. ``setup()`` builds the model, data and
optimizer and returns either the ``step`` callable (one training step; returns the loss) or a dict
``{"step": step, "model": ..., "params": {name: tensor}, "optimizer": ..., "name": ...}`` whose
extra keys help the tracer name things. Optional module globals: ``NAME`` (display name) and
``FRAMEWORK`` ("torch" or "tensorflow"; otherwise inferred from the file name or its imports).
See docs/model-scripts.md.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
FRAMEWORKS = ("torch", "tensorflow")


class ScriptError(RuntimeError):
    """A model script could not be loaded or run; ``message`` is one line, ``details`` the
    user's traceback (only the frames in the user's file and below)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass
class ModelScript:
    """A loaded model script, ready to trace: the step callable plus naming hints."""

    path: Path
    name: str
    framework: str
    step: Callable[[], Any]
    model: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    optimizer: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    module: ModuleType | None = None


def example_path(name: str) -> Path:
    """Path of a bundled example by name, e.g. 'dynamicnet_torch'."""
    path = EXAMPLES_DIR / f"{name.removesuffix('.py')}.py"
    if not path.is_file():
        raise ScriptError(f"no example named {name!r}; available: {', '.join(list_examples())}")
    return path


def list_examples() -> list[str]:
    """Names of the bundled example scripts."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.stem.startswith("_"))


_OWN_DIRS = tuple(str(Path(__file__).resolve().parent.parent / d) for d in ("tracers", "viz"))


def user_traceback(exc: BaseException, path: Path) -> str:
    """The traceback of exc from the first frame in the user's file on, keeping only the user's
    own frames (not graphstage's hooks, not installed packages such as torch)."""
    tb = exc.__traceback__
    target = str(path.resolve())
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) != target:
        tb = tb.tb_next
    frames = [f for f in traceback.extract_tb(tb or exc.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_OWN_DIRS)
              and "-packages" + os.sep not in f.filename]
    return ("Traceback (most recent call last):\n"
            + "".join(traceback.format_list(frames))
            + "".join(traceback.format_exception_only(type(exc), exc)))


def seed_everything(seed: int) -> None:
    """Seed Python's RNG and, if already imported, numpy/torch/tensorflow's."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def _infer_framework(path: Path, module: ModuleType) -> str:
    declared = getattr(module, "FRAMEWORK", None)
    if declared is not None:
        declared = {"tf": "tensorflow", "pytorch": "torch"}.get(declared, declared)
        if declared not in FRAMEWORKS:
            raise ScriptError(f"{path.name}: FRAMEWORK = {declared!r}; expected one of "
                              f"{FRAMEWORKS}")
        return declared
    stem = path.stem
    if stem.endswith("_torch"):
        return "torch"
    if stem.endswith(("_tf", "_tf1")):
        return "tensorflow"
    used = {getattr(v, "__name__", "").split(".")[0] for v in vars(module).values()
            if isinstance(v, ModuleType)}
    found = [f for f in FRAMEWORKS if f in used]
    if len(found) == 1:
        return found[0]
    raise ScriptError(f"{path.name}: cannot tell whether it is a torch or a tensorflow script; "
                      "set FRAMEWORK = 'torch' or 'tensorflow' in it")


def load_script(path: str | os.PathLike, seed: int = 0) -> ModelScript:
    """Import a model script and call its setup(); every failure becomes a ScriptError."""
    path = Path(path)
    if not path.is_file():
        raise ScriptError(f"{path}: no such file")
    if path.suffix != ".py":
        raise ScriptError(f"{path}: a model script must be a .py file")
    mod_name = f"graphstage_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ScriptError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    # a TensorFlow script imports tensorflow right here: keep its C++ start-up log quiet
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    seed_everything(seed)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - a user's script may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ScriptError(f"{path.name} raised {type(exc).__name__} while being imported: {exc}",
                          user_traceback(exc, path)) from None
    setup = getattr(module, "setup", None)
    if not callable(setup):
        raise ScriptError(f"{path.name} has no setup() function; a model script defines "
                          "setup() returning its step() callable (see docs/model-scripts.md)")
    framework = _infer_framework(path, module)
    seed_everything(seed)
    try:
        result = setup()
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ScriptError(f"{path.name}: setup() raised {type(exc).__name__}: {exc}",
                          user_traceback(exc, path)) from None
    return _to_model_script(path, module, framework, result)


def _to_model_script(path: Path, module: ModuleType, framework: str, result: Any) -> ModelScript:
    name = str(getattr(module, "NAME", path.stem))
    if callable(result) and not isinstance(result, Mapping):
        return ModelScript(path=path, name=name, framework=framework, step=result, module=module)
    if isinstance(result, Mapping):
        step = result.get("step")
        if not callable(step):
            raise ScriptError(f"{path.name}: setup() returned a dict without a callable 'step'")
        known = {"step", "model", "params", "optimizer", "name"}
        return ModelScript(
            path=path, name=str(result.get("name", name)), framework=framework, step=step,
            model=result.get("model"), params=dict(result.get("params") or {}),
            optimizer=result.get("optimizer"),
            extras={k: v for k, v in result.items() if k not in known}, module=module,
        )
    raise ScriptError(f"{path.name}: setup() returned {type(result).__name__}; it must return "
                      "the step() callable or a dict with a 'step' key")
