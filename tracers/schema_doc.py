"""The contract's tables in docs/contract.md, generated from tracers/schema.py.

docs/contract.md holds marker comments (``<!-- schema:node-attributes begin -->`` ...
``<!-- schema:node-attributes end -->``); the text between each pair is generated here::

    python -m graphstage.tracers.schema_doc --markdown                # print every section
    python -m graphstage.tracers.schema_doc --write docs/contract.md  # refresh the docs in place
    python -m graphstage.tracers.schema_doc --check docs/contract.md  # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from graphstage.tracers.schema import (
    EDGE_ATTRS,
    GRAPH_ATTRS,
    KINDS,
    NODE_ATTRS,
    ROLES,
    RULES,
    Attr,
    Value,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _values_text(attr: Attr) -> str:
    return ", ".join(f"`{v.name}`" for v in attr.values)


def attr_table(attrs: tuple[Attr, ...]) -> str:
    """A markdown table of attributes: name, required, type, allowed values, meaning."""
    rows = ["| attribute | required | type | values | meaning |", "|---|---|---|---|---|"]
    for a in attrs:
        allowed = _values_text(a) or (f">= {a.minimum}" if a.minimum is not None else "")
        rows.append(f"| `{a.name}` | {'yes' if a.required else 'no'} | {a.type_text} | "
                    f"{_cell(allowed)} | {_cell(a.meaning)} |")
    return "\n".join(rows)


def value_table(values: tuple[Value, ...], what: str) -> str:
    """A markdown table of a vocabulary: value, key prefix (node kinds), meaning."""
    with_key = any(v.key for v in values)
    head = f"| {what} |" + (" key |" if with_key else "") + " meaning |"
    rows = [head, "|---|" + ("---|" if with_key else "") + "---|"]
    for v in values:
        key = (f" `{v.key}<name>` |" if v.key else " |") if with_key else ""
        rows.append(f"| `{v.name}` |{key} {_cell(v.meaning)} |")
    return "\n".join(rows)


def rule_list() -> str:
    """The structural rules as a markdown list."""
    return "\n".join(f"- **{r.name}**: {r.text}" for r in RULES)


SECTIONS = {
    "graph-attributes": lambda: attr_table(GRAPH_ATTRS),
    "node-attributes": lambda: attr_table(NODE_ATTRS),
    "node-kinds": lambda: value_table(KINDS, "kind"),
    "edge-attributes": lambda: attr_table(EDGE_ATTRS),
    "edge-roles": lambda: value_table(ROLES, "role"),
    "rules": rule_list,
}

_MARKER = re.compile(r"(<!-- schema:(?P<name>[a-z-]+) begin -->\n).*?(<!-- schema:(?P=name) end "
                     r"-->)", re.S)


def markdown() -> str:
    """Every generated section between its markers, as docs/contract.md holds them."""
    return "\n\n".join(f"<!-- schema:{name} begin -->\n{render()}\n<!-- schema:{name} end -->"
                       for name, render in SECTIONS.items())


def fill(doc: str) -> str:
    """doc with the text between each pair of schema markers regenerated."""
    def repl(m: re.Match) -> str:
        render = SECTIONS.get(m.group("name"))
        return m.group(0) if render is None else f"{m.group(1)}{render()}\n{m.group(3)}"
    return _MARKER.sub(repl, doc)


def sections_in(doc: str) -> list[str]:
    """The names of the marked sections a document holds, in order."""
    return [m.group("name") for m in _MARKER.finditer(doc)]


def main(argv: list[str] | None = None) -> int:
    """Command line: print the tables, refresh a document, or check that it is current."""
    ap = argparse.ArgumentParser(prog="python -m graphstage.tracers.schema_doc",
                                 description="The step-graph contract's tables.")
    grp = ap.add_mutually_exclusive_group(required=True)
    grp.add_argument("--markdown", action="store_true", help="print every generated section")
    grp.add_argument("--write", metavar="DOC", type=Path, help="regenerate DOC's sections")
    grp.add_argument("--check", metavar="DOC", type=Path, help="exit 1 if DOC is not current")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown())
        return 0
    path = args.write or args.check
    doc = path.read_text(encoding="utf-8")
    new = fill(doc)
    if args.write:
        path.write_text(new, encoding="utf-8")
        return 0
    if new != doc or sorted(sections_in(doc)) != sorted(SECTIONS):
        print(f"{path}: the contract tables differ from tracers/schema.py; run python -m "
              f"graphstage.tracers.schema --write {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
