"""Record a user's unchanged training loop (graphstage.record) or script (graphstage run).

Framework-free front: it picks the framework's recorder lazily (tracers/torch_record.py,
tracers/tf_record.py).
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from graphstage.tracers.errors import RecordingComplete
from graphstage.tracers.script import FRAMEWORKS, ModelScript, ScriptError, user_traceback
from graphstage.tracers.session import TraceSession


class Recording:
    """``with graphstage.record(steps=N) as rec: <training loop>``; then ``rec.session``.

    torch: a step ends at each optimizer ``step()`` (or, without an optimizer, where the next
    top-level forward starts). TensorFlow: a step ends at each tf.function call that computes
    gradients (a train step, Keras' train function) or at an eager ``apply_gradients``. After
    N steps recording stops and the loop runs on unhooked.
    """

    def __init__(self, steps: int, *, model: Any = None, optimizer: Any = None,
                 params: Mapping[str, Any] | None = None, name: str | None = None,
                 framework: str | None = None, namespace: Callable[[], dict] | None = None,
                 origin: str = "recorded loop", path: Path | None = None) -> None:
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, not {steps!r}")
        self.steps = steps
        self.model, self.optimizer, self.params = model, optimizer, dict(params or {})
        self.name, self.framework = name, framework
        self.namespace = namespace or dict
        self.origin, self.path = origin, path or Path("<recorded>")
        self.stop_when_done = False
        self.wait_for_forward = False
        self.on_step: Callable[[TraceSession], None] | None = None
        self._impl: Any = None
        self._session: TraceSession | None = None

    @property
    def session(self) -> TraceSession:
        """The steps recorded so far (all of them once the block has ended)."""
        if self._session is not None:
            return self._session
        if self._impl is None:
            raise RuntimeError("nothing recorded yet: use graphstage.record() as a context manager")
        return self._impl.session

    @property
    def error(self) -> BaseException | None:
        """What stopped recording early (the loop itself ran on), or None."""
        return getattr(self._impl, "error", None)

    def __enter__(self) -> Recording:
        framework = self.framework or _infer(self.model, self.optimizer, self.params,
                                             namespace=self.namespace())
        framework = {"tf": "tensorflow", "pytorch": "torch"}.get(framework, framework)
        module = ModuleType("graphstage_recorded")
        module.__dict__.update(self.namespace())
        name = self.name or (type(self.model).__name__ if self.model is not None else
                             self.path.stem if self.path.suffix == ".py" else "recorded")
        ms = ModelScript(path=self.path, name=name, framework=framework, step=lambda: None,
                         model=self.model, params=self.params, optimizer=self.optimizer,
                         module=module, origin=self.origin)
        if framework == "tensorflow":
            from graphstage.tracers.tf_record import TfRecording

            self._impl = TfRecording(self.steps, ms)
        else:
            from graphstage.tracers.torch_record import TorchRecording

            self._impl = TorchRecording(self.steps, ms)
        self._impl.stop_when_done = self.stop_when_done
        self._impl.on_step = self.on_step
        if self.wait_for_forward and framework == "torch":
            self._impl.start_at_first_forward(self.namespace)
        else:
            self._impl.start()
        return self

    def __exit__(self, *exc: object) -> bool:
        if self._impl is not None:
            self._session = self._impl.stop()
        return False


def _infer(*objects: Any, namespace: Mapping[str, Any]) -> str:
    """The framework of the hints, else of the caller's objects (models, tensors, optimizers:
    not the modules it imported), else the only one imported."""
    from graphstage.tracers.script import _frameworks_of

    flat = [o for obj in objects for o in (obj.values() if isinstance(obj, Mapping) else [obj])]
    found = _frameworks_of(flat) or _frameworks_of(
        [v for v in namespace.values() if not isinstance(v, (ModuleType, type))])
    found = found or {f for f in FRAMEWORKS if f in sys.modules}
    if len(found) != 1:
        raise ValueError("graphstage.record cannot tell the framework: pass model=, optimizer= "
                         "or framework='torch'")
    return found.pop()


def script_framework(path: Path) -> str | None:
    """torch or tensorflow, from a script's top-level imports (None: neither or both)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise ScriptError(f"{path.name}: line {exc.lineno}: {exc.msg}") from None
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    found = {f for f in FRAMEWORKS if f in roots} | ({"tensorflow"} if "keras" in roots else set())
    return found.pop() if len(found) == 1 else None


def _script_names(path: Path, module_globals: dict[str, Any]) -> dict[str, Any]:
    """The variables the script can see right now: the locals of every frame of the script on
    the stack (innermost first; its model often lives in main()'s locals), then its globals."""
    names: dict[str, Any] = {}
    target = str(path)
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_filename == target:
            for k, v in frame.f_locals.items():
                names.setdefault(k, v)
        frame = frame.f_back
    for k, v in module_globals.items():
        names.setdefault(k, v)
    return names


def _preload(framework: str) -> None:
    """Import the framework before the script does: the recorder hooks torch (patches
    tf.function) before the script's first step."""
    if framework == "torch":
        import torch  # noqa: F401
    else:
        from graphstage.tracers.tf_env import import_tf

        import_tf()


def run_script(path: str | os.PathLike, steps: int, argv: list[str] | None = None, *,
               finish: bool = False, on_step: Callable[[TraceSession], None] | None = None,
               ) -> tuple[TraceSession, str]:
    """Run an unmodified training script as ``__main__`` while recording its first ``steps``
    steps; stop it then (or let it run to its end with ``finish``).

    Returns the session and one line on how the script ended. The script's own exceptions
    become a ScriptError (with its traceback) unless steps were already recorded.
    """
    path = Path(path)
    if not path.is_file():
        raise ScriptError(f"{path}: no such file")
    framework = script_framework(path)
    if framework is None:
        raise ScriptError(f"{path.name}: cannot tell whether it trains with torch or tensorflow "
                          "(it must import exactly one of them)")
    main = ModuleType("__main__")
    main.__file__ = str(path)
    namespace = main.__dict__
    rec = Recording(steps, framework=framework, namespace=lambda: _script_names(path, namespace),
                    origin=path.name, path=path)
    rec.stop_when_done = not finish
    rec.wait_for_forward = True
    rec.on_step = on_step
    _preload(framework)
    code = compile(path.read_bytes(), str(path), "exec")
    old_argv, old_path, old_main = sys.argv, list(sys.path), sys.modules.get("__main__")
    sys.argv = [str(path), *(argv or [])]
    sys.path.insert(0, str(path.parent.resolve()))
    sys.modules["__main__"] = main
    ended = "the script ran to its end"
    try:
        with rec:
            try:
                exec(code, namespace)  # noqa: S102 - running the user's script is the point
            except RecordingComplete:
                ended = f"stopped after recording {steps} steps"
            except SystemExit as exc:
                if exc.code not in (0, None):
                    ended = f"the script exited with status {exc.code}"
    except BaseException as exc:  # noqa: BLE001 - the user's script may raise anything
        if isinstance(exc, KeyboardInterrupt) or not rec.session.steps:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise ScriptError(f"{path.name} raised {type(exc).__name__}: {exc}".splitlines()[0],
                              user_traceback(exc, path)) from None
        ended = f"the script raised {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        if old_main is not None:
            sys.modules["__main__"] = old_main
    if not rec.session.steps:
        raise ScriptError(f"{path.name}: no training step was recorded ({ended}); graphstage "
                          "run records steps that call backward() on a module's output (torch) "
                          "or a tf.function that computes gradients (TensorFlow)")
    return rec.session, ended
