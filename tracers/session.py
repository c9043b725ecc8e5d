"""A trace session: the ordered step graphs of one model plus per-step metrics, saved as JSON.

Files are strict JSON (never pickle, so opening one runs no code); tracers/tracefile.py writes and
checks them. A step whose structure equals an earlier step's is stored as a reference to that step
plus only the node attributes that changed (values, gradients) or were removed, which keeps long
traces of static graphs small.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.tracers import tracefile
from graphstage.tracers.contract import StepDiff, diff_steps, structure_signature, validate
from graphstage.tracers.tracefile import (  # re-exported: the child process protocol uses them
    FILE_FORMAT,
    TraceFileError,
    graph_from_data,
    graph_to_data,
)

__all__ = ["FILE_FORMAT", "TraceFileError", "TraceSession", "graph_from_data", "graph_to_data"]


@dataclass
class TraceSession:
    """The captured steps of one model run, in order."""

    framework: str
    model: str
    steps: list[nx.DiGraph] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add_step(self, graph: nx.DiGraph, **metrics: Any) -> nx.DiGraph:
        """Validate and append one step graph; marks whether its structure equals the last."""
        validate(graph)
        if self.steps:
            prev = self.steps[-1]
            same = structure_signature(prev) == structure_signature(graph)
            graph.graph["same_as_previous"] = same
        else:
            graph.graph["same_as_previous"] = False
        self.steps.append(graph)
        metrics.setdefault("loss", graph.graph.get("loss"))
        metrics.setdefault("nodes", graph.number_of_nodes())
        self.metrics.append(metrics)
        return graph

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[nx.DiGraph]:
        return iter(self.steps)

    def graph(self, index: int) -> nx.DiGraph:
        """The step graph at ``index`` (0-based, negative counts from the end); read-only for
        TensorFlow steps, which share structure (copy it before changing it)."""
        return self.steps[index]

    def diff(self, i: int, j: int | None = None) -> StepDiff:
        """Structural change from step i to step j; with j left out, from step i-1 to step i
        (everything added for the first step)."""
        if j is None:
            before = self.steps[i - 1] if i % max(len(self.steps), 1) > 0 else None
            return diff_steps(before, self.steps[i])
        return diff_steps(self.steps[i], self.steps[j])

    def losses(self) -> list[float | None]:
        return [m.get("loss") for m in self.metrics]

    # ---- persistence (tracers/tracefile.py reads and writes the files) ---------------------

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-ready dict; steps with an already stored structure keep only changes."""
        return tracefile.to_document(self.framework, self.model, self.meta, self.steps,
                                     self.metrics)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the session as compact strict JSON (atomically: never half a file)."""
        return tracefile.write(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "data") -> TraceSession:
        """A session from a to_dict() result; TraceFileError (one line) if it is not one."""
        parts = tracefile.from_document(data, source)
        return cls(framework=parts.framework, model=parts.model, steps=parts.steps,
                   metrics=parts.metrics, meta=parts.meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TraceSession:
        """Read a trace file; raise TraceFileError (one line) for anything that is not one."""
        return cls.from_dict(tracefile.read(path), source=str(path))
