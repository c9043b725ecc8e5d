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
import inspect
import os
import random
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


def examples_dir() -> Path:
    """The bundled examples' folder, wherever graphstage is installed (package data)."""
    from importlib.resources import files

    return Path(str(files("graphstage.assets") / "examples"))


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
    origin: str = ""  # for a step handed over in memory: "step train_step (nb.py:12)"

    @property
    def where(self) -> str:
        """How error messages name the user's code: the script's file name, or the step
        function's name and where it was defined."""
        return self.origin or self.path.name


def example_path(name: str) -> Path:
    """Path of a bundled example by name, e.g. 'dynamicnet_torch'."""
    path = examples_dir() / f"{name.removesuffix('.py')}.py"
    if not path.is_file():
        raise ScriptError(f"no example named {name!r}; available: {', '.join(list_examples())}")
    return path


def resolve_source(name: str | os.PathLike) -> Path:
    """A path as given when it names a file (or ends in .py/.json), else the bundled example of
    that name ('dynamicnet_torch')."""
    path = Path(name)
    if path.suffix in (".py", ".json") or path.exists():
        return path
    return example_path(str(name))


def list_examples() -> list[str]:
    """Names of the bundled example scripts."""
    return sorted(p.stem for p in examples_dir().glob("*.py") if not p.stem.startswith("_"))


def _own_dirs() -> tuple[str, ...]:
    """graphstage's own source folders (tracers, viz, and the API package's folder)."""
    here = Path(__file__).resolve().parent
    dirs = [here, here.parent / "viz"]
    top = sys.modules.get("graphstage")
    if getattr(top, "__file__", None):
        dirs.append(Path(top.__file__).resolve().parent)
    return tuple(str(d) + os.sep for d in dirs)


def user_traceback(exc: BaseException, path: Path) -> str:
    """The traceback of exc from the first frame in the user's file on, keeping only the user's
    own frames (not graphstage's hooks, not installed packages such as torch)."""
    tb = exc.__traceback__
    target = str(path.resolve())
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) != target:
        tb = tb.tb_next
    own = _own_dirs()
    frames = [f for f in traceback.extract_tb(tb or exc.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(own)
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


_FRAMEWORK_ROOTS = {"torch": "torch", "tensorflow": "tensorflow", "keras": "tensorflow",
                    "tf_keras": "tensorflow"}


def script_from_callable(
    step: Callable[[], Any],
    *,
    model: Any = None,
    optimizer: Any = None,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
    framework: str | None = None,
    extras: Mapping[str, Any] | None = None,
) -> ModelScript:
    """A ModelScript for a zero-argument step callable already in memory (no script file).

    The framework is inferred from the objects handed over and those the step refers to
    (closure cells, the globals its code names); errors name the step and where it was defined.
    """
    if not callable(step):
        raise TypeError(f"step must be a zero-argument callable, not {type(step).__name__}")
    fn = getattr(step, "python_function", step)  # a tf.function's Python function
    code = getattr(inspect.unwrap(fn), "__code__", None)
    path = Path(code.co_filename) if code is not None else Path("<step>")
    qual = getattr(fn, "__qualname__", type(step).__name__)
    origin = f"step {qual} ({path.name}:{code.co_firstlineno})" if code else f"step {qual}"
    module = ModuleType("graphstage_user_step")
    module.__dict__.update(getattr(inspect.unwrap(fn), "__globals__", {}))
    if framework is None:
        found = _frameworks_of([step, model, optimizer, *(params or {}).values()])
        found = found or _frameworks_of(_referenced(fn, depth=2))
        if len(found) != 1:
            raise ScriptError(f"{origin}: cannot tell whether it is a torch or a tensorflow step "
                              "(pass framework='torch' or 'tensorflow')")
        framework = found.pop()
    framework = {"tf": "tensorflow", "pytorch": "torch"}.get(framework, framework)
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, not {framework!r}")
    default = type(model).__name__ if model is not None else getattr(fn, "__name__", "step")
    return ModelScript(path=path, name=name or default, framework=framework, step=step,
                       model=model, params=dict(params or {}), optimizer=optimizer,
                       extras=dict(extras or {}), module=module, origin=origin)


def _frameworks_of(objects: list[Any]) -> set[str]:
    """The frameworks (torch/tensorflow) that objects, their classes' bases or modules belong to."""
    found: set[str | None] = set()
    for o in objects:
        if o is None:
            continue
        if isinstance(o, ModuleType):
            found.add(_FRAMEWORK_ROOTS.get(o.__name__.split(".")[0]))
            continue
        for cls in type(o).__mro__:
            found.add(_FRAMEWORK_ROOTS.get((cls.__module__ or "").split(".")[0]))
    found.discard(None)
    return found  # type: ignore[return-value]


def _referenced(fn: Any, depth: int = 1) -> list[Any]:
    """The objects a function's code can reach by name (closure cells, named globals), and
    those of the plain functions among them, ``depth`` levels down."""
    fn = inspect.unwrap(getattr(fn, "python_function", fn))
    out = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())
           if _cell_filled(c)]
    code = getattr(fn, "__code__", None)
    glb = getattr(fn, "__globals__", {})
    if code is not None:
        out += [glb[n] for n in code.co_names if n in glb]
    if depth > 1:
        out += [o for f in list(out) if inspect.isfunction(f) for o in _referenced(f, depth - 1)]
    return out


def _cell_filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


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
