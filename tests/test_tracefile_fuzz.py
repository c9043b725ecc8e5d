"""Property: a mutated real trace file either loads to valid step graphs or gives one clean line.

Seeds are real traces made once per module with graphstage's own tracers (mul_torch,
dynamicnet_torch, linreg_tf). Each case mutates one seed's JSON (drop/rename/replace keys, change
types, swap values, duplicate list items, deep nesting, non-finite numbers) or its bytes
(truncate, flip, insert, delete, repeat), writes it, and loads it with TraceSession.load. The
outcomes are counted and printed (run with -s to see them).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphstage.tracers import TraceFileError, TraceSession, trace_script, validate

SETTINGS = dict(deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NEST = "__graphstage_nest_{}_{}__"
NEST_RE = re.compile(r'"__graphstage_nest_(\d+)_(\w+)__"')

# Error kinds, first match wins (the part of the message after "FILE: ").
KINDS = [
    ("not UTF-8", r"not UTF-8"),
    ("invalid JSON", r"not valid JSON"),
    ("too deep", r"nested"),
    ("number too large", r"digits|64 bits"),
    ("bad $float", r"\$float"),
    ("lone surrogate", r"surrogate"),
    ("no trace header", r"not a graphstage trace"),
    ("version/schema", r"^(has schema|'version'|written by a newer)"),
    ("header field", r"^'(framework|model|meta|steps)'"),
    ("step: delta", r"step \d+ is malformed: .*(base|node_attrs|removed_attrs|node_order|"
                    r"graph_attrs|does not have)"),
    ("step: metrics", r"step \d+ is malformed: .*metrics"),
    ("step: node-link", r"step \d+ is malformed: (the step|graph\.|.*appears twice|"
                        r".*is not a node|.*must be directed|.*children|has (both|neither))"),
    ("step: contract", r"step \d+ is malformed: "),
]


EXAMPLES: dict[str, str] = {}   # one message per kind, printed with the counts


def kind_of(message: str, path: str) -> str:
    rest = message[len(path) + 2:]
    return next((k for k, rx in KINDS if re.search(rx, rest)), "other: " + rest[:60])


@pytest.fixture(scope="module")
def seeds(examples_dir) -> dict[str, str]:
    """Real trace files as JSON text: mul_torch, dynamicnet_torch (plus a later step with an
    attribute removed, so deltas carry removals), linreg_tf."""
    out = {}
    for name, steps, seed in (("mul_torch", 2, 0), ("dynamicnet_torch", 7, 2),
                              ("linreg_tf", 3, 0)):
        out[name] = json.dumps(trace_script(examples_dir / f"{name}.py", steps=steps,
                                            seed=seed).to_dict())
    session = TraceSession.from_dict(json.loads(out["dynamicnet_torch"]))
    last = session.steps[-1]
    del last.nodes[next(n for n, a in last.nodes(data=True) if "grad" in a)]["grad"]
    out["dynamicnet_torch+removal"] = json.dumps(session.to_dict())
    assert all(s.startswith('{"format": "graphstage-trace"') for s in out.values())
    assert '"removed_attrs"' in out["dynamicnet_torch+removal"]
    assert '"node_order"' in out["dynamicnet_torch"]
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check(raw: bytes, path, counts: Counter) -> None:
    """The property: load cleanly and validate every step, or one TraceFileError line."""
    path.write_bytes(raw)
    try:
        session = TraceSession.load(path)
    except TraceFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: "), message
        assert len(message.splitlines()) == 1 and len(message) <= 400, message
        kind = kind_of(message, str(path))
        counts[kind] += 1
        EXAMPLES.setdefault(kind, message[len(str(path)) + 2:])
        return
    for g in session.steps:
        validate(g)
    assert len(session.metrics) == len(session.steps)
    counts["loaded"] += 1


# ---- JSON mutations ----------------------------------------------------------------------------

ATTR_NAMES = ["id", "source", "target", "kind", "phase", "order", "key", "label", "op", "scope",
              "graph", "nodes", "edges", "base", "node_attrs", "removed_attrs", "node_order",
              "graph_attrs", "metrics", "loss", "schema", "version", "format", "value", "grad",
              "children", "forward", "param", "role", "shape", "$float", "directed"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6),
    st.sampled_from([-1, 0, 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "f0", "f1", "in:inputs", "op", "parameter", "forward", "data", "nan",
                     "graphstage-trace", "\ud800", "a\nb"]),
    st.fixed_dictionaries({"$float": st.sampled_from(["nan", "inf", "-inf", "NaN", "x", 1])}),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(ATTR_NAMES) | st.text(max_size=6), inner, max_size=3), max_leaves=6)
NONFINITE = st.sampled_from([float("nan"), float("inf"), float("-inf"), "nan", "-inf"]).map(
    lambda v: {"$float": v} if isinstance(v, str) else v)  # a fresh dict: later ops mutate it
DEPTHS = st.sampled_from([2, 50, 199, 201, 400, 900, 1500, 5000]) | st.integers(1, 3000)
OPS = ["drop", "replace", "retype", "swap", "nest", "nonfinite", "duplicate", "rename"]


def pick_path(data: st.DataObject, doc) -> list:
    """A random path into the document: mostly into a step (where most of a file is), going
    deeper with probability 7/8 at each level; sometimes the header or the root."""
    path, node = [], doc
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list) and doc["steps"] \
            and data.draw(st.integers(0, 7)) > 0:
        path = ["steps", data.draw(st.integers(0, len(doc["steps"]) - 1))]
        node = doc["steps"][path[1]]
    while isinstance(node, (dict, list)) and node and data.draw(st.integers(0, 7)) > 0:
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict)
                                        else range(len(node))))
        path.append(key)
        node = node[key]
    return path


def get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def retyped(value, how: int):
    """The same content as another JSON type."""
    if how == 0:
        return json.dumps(value, allow_nan=True)[:40]
    if how == 1:
        return [value]
    if how == 2:
        return {"value": value}
    if isinstance(value, str):
        return len(value) if how == 3 else float(len(value))
    return bool(value) if how == 3 else None


def mutate(data: st.DataObject, doc) -> object:
    """Apply one random operation somewhere in ``doc``; returns the (possibly new) root."""
    op = data.draw(st.sampled_from(OPS))
    path = pick_path(data, doc)
    if not path:
        return data.draw(VALUES) if op in ("replace", "retype", "drop") else doc
    parent, key = get(doc, path[:-1]), path[-1]
    value = parent[key]
    if op == "drop":
        del parent[key]
    elif op == "replace":
        parent[key] = data.draw(VALUES)
    elif op == "retype":
        parent[key] = retyped(value, data.draw(st.integers(0, 4)))
    elif op == "swap":
        other = pick_path(data, doc)
        if other and other[:len(path)] != path and path[:len(other)] != other:
            o_parent = get(doc, other[:-1])
            parent[key], o_parent[other[-1]] = o_parent[other[-1]], value
    elif op == "nest":
        parent[key] = NEST.format(data.draw(DEPTHS), data.draw(st.sampled_from(["list", "obj"])))
    elif op == "nonfinite":
        parent[key] = data.draw(NONFINITE)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(value)))
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(ATTR_NAMES))] = parent.pop(key)
    return doc


def nested(match: re.Match) -> str:
    depth, shape = int(match.group(1)), match.group(2)
    return "[" * depth + "]" * depth if shape == "list" else '{"a":' * depth + "1" + "}" * depth


def serialize(doc, ascii_only: bool) -> bytes:
    text = json.dumps(doc, allow_nan=True, ensure_ascii=ascii_only)
    return NEST_RE.sub(nested, text).encode("utf-8", "surrogatepass")


def test_json_mutations(seeds, workdir):
    counts: Counter = Counter()
    path = workdir / "json.json"

    @settings(max_examples=400, **SETTINGS)
    @given(st.data())
    def case(data):
        doc = json.loads(seeds[data.draw(st.sampled_from(sorted(seeds)))])
        for _ in range(data.draw(st.integers(1, 3))):
            doc = mutate(data, doc)
        check(serialize(doc, data.draw(st.booleans())), path, counts)

    case()
    print(f"\nJSON mutations, {sum(counts.values())} files: {dict(counts.most_common())}")
    assert counts["loaded"] > 0 and len(counts) >= 8, counts


# ---- byte mutations ----------------------------------------------------------------------------

def byte_mutate(data: st.DataObject, raw: bytes) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat"]
                                   + ["digit"] * 5))
    if not raw:
        return data.draw(st.binary(max_size=8))
    at = data.draw(st.integers(0, len(raw) - 1))
    if op == "digit":  # the next digit becomes another one: a file that still parses
        m = re.compile(rb"[0-9]").search(raw, at)
        at = m.start() if m else at
        return raw[:at] + data.draw(st.sampled_from(b"0123456789-.e")).to_bytes() + raw[at + 1:]
    if op == "truncate":
        return raw[:at]
    if op == "flip":
        return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    if op == "insert":
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    size = data.draw(st.integers(1, 64))
    if op == "delete":
        return raw[:at] + raw[at + size:]
    return raw[:at] + raw[at:at + size] * 2 + raw[at + size:]


def test_byte_mutations(seeds, workdir):
    counts: Counter = Counter()
    path = workdir / "bytes.json"

    @settings(max_examples=200, **SETTINGS)
    @given(st.data())
    def case(data):
        raw = seeds[data.draw(st.sampled_from(sorted(seeds)))].encode()
        for _ in range(data.draw(st.integers(1, 4))):
            raw = byte_mutate(data, raw)
        check(raw, path, counts)

    case()
    print(f"\nbyte mutations, {sum(counts.values())} files: {dict(counts.most_common())}")
    print("\n".join(f"  {kind}: {message}" for kind, message in sorted(EXAMPLES.items())))
    assert counts["loaded"] > 0 and len(counts) >= 4, counts
