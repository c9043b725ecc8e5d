"""Find and run a Graphviz layout engine: the system ``dot`` if present, else graphviz-pure.

graphviz-pure (a pip dependency) provides a dot-compatible command, so pip alone suffices; it has
no PDF output, which :mod:`viz.export` produces through Qt instead when needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class GraphvizError(RuntimeError):
    """Graphviz is missing or failed; the message is one line a user can act on."""


@dataclass(frozen=True)
class Engine:
    """A dot-compatible executable and what it can write."""

    name: str            # "dot" (system Graphviz) or "graphviz-pure"
    path: str
    formats: frozenset[str]

    def describe(self) -> str:
        return f"{self.name} ({self.path})"


_PURE_FORMATS = frozenset({"svg", "png", "json", "dot", "plain", "xdot"})
_DOT_FORMATS = _PURE_FORMATS | {"pdf"}


@lru_cache(maxsize=4)
def find_engine(prefer: str | None = None) -> Engine:
    """The engine to use; ``prefer`` (or $GRAPHSTAGE_ENGINE) may be 'dot' or 'graphviz-pure'."""
    prefer = prefer or os.environ.get("GRAPHSTAGE_ENGINE") or None
    bindir = Path(sys.executable).parent
    candidates = {
        "dot": shutil.which("dot"),
        "graphviz-pure": shutil.which("graphviz-pure") or _existing(bindir / "graphviz-pure"),
    }
    order = ["dot", "graphviz-pure"]
    if prefer:
        if prefer not in candidates:
            raise GraphvizError(f"unknown Graphviz engine {prefer!r}; use 'dot' or "
                                "'graphviz-pure'")
        order.remove(prefer)
        order.insert(0, prefer)
    for name in order:
        if candidates[name]:
            formats = _DOT_FORMATS if name == "dot" else _PURE_FORMATS
            return Engine(name, candidates[name], formats)
    raise GraphvizError("no Graphviz engine found: install Graphviz ('apt-get install graphviz') "
                        "or 'pip install graphviz-pure'")


def _existing(path: Path) -> str | None:
    return str(path) if path.is_file() else None


DEFAULT_TIMEOUT = 300.0  # seconds a Graphviz run may take before it is stopped


def run(source: str, fmt: str, *, engine: Engine | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        fallback: bool = True) -> bytes:
    """Lay out and render DOT source to ``fmt`` bytes (svg, png, json, pdf with system dot...).

    If the engine fails (Debian's dot 2.43 aborts on some clustered graphs) and ``fallback`` is
    set, the other installed engine that writes ``fmt`` gets one try before the error is raised.
    """
    engine = engine or find_engine()
    try:
        return _run_one(source, fmt, engine, timeout)
    except GraphvizError as first:
        if not fallback or "longer than" in str(first):
            raise
        other = _other_engine(engine, fmt)
        if other is None:
            raise
        try:
            return _run_one(source, fmt, other, timeout)
        except GraphvizError:
            raise first from None


def _other_engine(engine: Engine, fmt: str) -> Engine | None:
    for name in ("dot", "graphviz-pure"):
        if name == engine.name:
            continue
        try:
            other = find_engine(name)
        except GraphvizError:
            return None
        if other.name == name and fmt in other.formats:
            return other
    return None


def _run_one(source: str, fmt: str, engine: Engine, timeout: float) -> bytes:
    if fmt not in engine.formats:
        raise GraphvizError(f"{engine.name} cannot write {fmt!r}; it writes "
                            f"{', '.join(sorted(engine.formats))}")
    try:
        proc = subprocess.run([engine.path, f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"{engine.name} took longer than {timeout:.0f} s; the graph is too "
                            "big to lay out in one piece: collapse scopes (--collapse-depth) "
                            "or export a part") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizError(f"{engine.name} failed (exit {proc.returncode}): "
                            f"{err[-1] if err else 'no message'}")
    return proc.stdout


def run_both(source: str, fmts: tuple[str, ...], *, engine: Engine | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes]:
    """Lay out once and render to several formats (e.g. svg to measure, png to keep), which
    halves the time of a big PNG export; falls back to one :func:`run` per format."""
    engine = engine or find_engine()
    if any(f not in engine.formats for f in fmts):
        return {f: run(source, f, engine=engine, timeout=timeout) for f in fmts}
    with tempfile.TemporaryDirectory(prefix="graphstage-dot-") as tmp:
        paths = {f: Path(tmp) / f"out.{f}" for f in fmts}
        args = [a for f in fmts for a in (f"-T{f}", f"-o{paths[f]}")]
        try:
            proc = subprocess.run([engine.path, *args], input=source.encode("utf-8"),
                                  capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GraphvizError(f"{engine.name} took longer than {timeout:.0f} s; the graph is "
                                "too big to lay out in one piece: collapse scopes "
                                "(--collapse-depth) or export a part") from None
        if proc.returncode != 0 or not all(p.is_file() for p in paths.values()):
            return {f: run(source, f, engine=engine, timeout=timeout) for f in fmts}
        return {f: p.read_bytes() for f, p in paths.items()}
