"""A trace session: the ordered step graphs of one model plus per-step metrics, saved as JSON.

Files are plain JSON (never pickle, so opening one runs no code). A step whose structure equals an
earlier step's is stored as a reference to that step plus only the node attributes that changed
(values, gradients), which keeps long traces of static graphs small.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.tracers.contract import (
    SCHEMA_VERSION,
    StepDiff,
    diff_steps,
    structure_signature,
    validate,
)

FILE_FORMAT = "graphstage-trace"


class TraceFileError(ValueError):
    """A file is not a readable graphstage trace; the message says why in one line."""


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

    # ---- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; steps with an already stored structure keep only changed attrs."""
        stored: dict[tuple, int] = {}
        steps_out = []
        for i, g in enumerate(self.steps):
            entry: dict[str, Any] = {"metrics": self.metrics[i]}
            sig = structure_signature(g)
            base_index = stored.get(sig)
            base = self.steps[base_index] if base_index is not None else None
            if base is not None and _same_ids_and_edges(base, g):
                entry["base"] = base_index
                entry["graph_attrs"] = dict(g.graph)
                entry["node_attrs"] = _changed_node_attrs(base, g)
            else:
                stored[sig] = i
                entry["graph"] = graph_to_data(g)
            steps_out.append(entry)
        return {
            "format": FILE_FORMAT,
            "schema": SCHEMA_VERSION,
            "framework": self.framework,
            "model": self.model,
            "meta": self.meta,
            "steps": steps_out,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the session as compact JSON (atomically: a crash never leaves half a file)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, separators=(",", ":"), allow_nan=True)
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, data: Any, source: str = "data") -> TraceSession:
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise TraceFileError(f"{source} is not a graphstage trace (no "
                                 f"'format: {FILE_FORMAT}' header)")
        if data.get("schema") != SCHEMA_VERSION:
            raise TraceFileError(f"{source} has schema {data.get('schema')!r}; this graphstage "
                                 f"reads schema {SCHEMA_VERSION}")
        session = cls(framework=str(data.get("framework", "?")), model=str(data.get("model", "?")),
                      meta=dict(data.get("meta") or {}))
        try:
            for entry in data["steps"]:
                if "graph" in entry:
                    g = graph_from_data(entry["graph"])
                else:
                    g = session.steps[entry["base"]].copy()
                    g.graph = dict(entry["graph_attrs"])
                    for n, attrs in entry["node_attrs"].items():
                        g.nodes[n].update(_decode_attrs(attrs))
                validate(g)
                session.steps.append(g)
                session.metrics.append(dict(entry.get("metrics") or {}))
        except TraceFileError:
            raise
        except Exception as exc:  # any malformed content becomes one clear line
            raise TraceFileError(f"{source}: step {len(session.steps)} is malformed: "
                                 f"{type(exc).__name__}: {exc}") from None
        return session

    @classmethod
    def load(cls, path: str | os.PathLike) -> TraceSession:
        """Read a trace file; raise TraceFileError (one line) for anything that is not one."""
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise TraceFileError(f"{path}: no such file") from None
        except UnicodeDecodeError:
            raise TraceFileError(f"{path} is not a graphstage trace (not UTF-8 text)") from None
        except json.JSONDecodeError as exc:
            raise TraceFileError(f"{path} is not valid JSON, truncated or corrupt ({exc.msg}: "
                                 f"line {exc.lineno}, column {exc.colno})") from None
        return cls.from_dict(data, source=str(path))


def _same_ids_and_edges(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    if a.number_of_nodes() != b.number_of_nodes() or a.number_of_edges() != b.number_of_edges():
        return False
    return all(n in a for n in b) and all(a.has_edge(u, v) and a.edges[u, v] == d
                                         for u, v, d in b.edges(data=True))


def _changed_node_attrs(base: nx.DiGraph, g: nx.DiGraph) -> dict[str, dict]:
    out = {}
    for n, attrs in g.nodes(data=True):
        old = base.nodes[n]
        changed = {k: v for k, v in attrs.items() if old.get(k) != v}
        if changed:
            out[n] = _encode_attrs(changed)
    return out


def _encode_attrs(attrs: dict) -> dict:
    if "children" not in attrs:
        return attrs
    attrs = dict(attrs)
    attrs["children"] = [{**c, "graph": graph_to_data(c["graph"])} for c in attrs["children"]]
    return attrs


def _decode_attrs(attrs: dict) -> dict:
    if "children" not in attrs:
        return attrs
    attrs = dict(attrs)
    attrs["children"] = [{**c, "graph": graph_from_data(c["graph"])} for c in attrs["children"]]
    return attrs


def graph_to_data(g: nx.DiGraph) -> dict:
    """networkx node-link data, with nested child graphs converted recursively."""
    data = nx.node_link_data(g, edges="edges")
    for node in data["nodes"]:
        if "children" in node:
            node.update(_encode_attrs({"children": node["children"]}))
    return data


def graph_from_data(data: dict) -> nx.DiGraph:
    """Inverse of graph_to_data."""
    g = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    for _, attrs in g.nodes(data=True):
        if "children" in attrs:
            attrs.update(_decode_attrs({"children": attrs["children"]}))
    return g
