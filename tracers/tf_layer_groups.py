"""Groups for the flat layer lists of functional Keras models, from the layers' names.

Keras applications are flat functional models: MobileNetV2's ~155 layers are all siblings
(``Conv1``, ``bn_Conv1``, ``expanded_conv_depthwise``, ``block_1_expand``,
``block_1_expand_BN``, ..., ``block_16_project_BN``, ``Conv_1``, ``out_relu``, ``predictions``),
and so are ResNet50's (``conv2_block1_1_conv`` ... ``conv5_block3_out``), DenseNet121's and
EfficientNetB0's (``block2a_expand_conv``). Their structure is in the names. The rule, applied
to the sibling layers of one parent in forward order (the order Keras called them):

1. A layer name's *keys* are its prefixes cut before an ``_`` or between a digit and a letter
   whose last ``_``-part holds a digit: ``conv2_block1_1_conv`` -> ``conv2``, ``conv2_block1``,
   ``conv2_block1_1``; ``block2a_se_excite`` -> ``block2``, ``block2a``; ``block_1_expand_BN``
   -> ``block_1``. Names Keras made itself from the class (``conv2d_3``, ``dense``) have none.
2. Consecutive layers whose shortest key is the same form a group named by that key when there
   are at least two of them and the key names no other run of siblings; inside a group the rule
   repeats with the longer keys (``conv2`` holds ``conv2_block1`` ... ``conv2_block3``), where
   the layers of one key need not be consecutive (ResNet calls a block's shortcut
   ``conv2_block1_0_conv`` between ``conv2_block1_3_conv`` and ``conv2_block1_3_bn``).
3. Among a model's own layers (the traced model or a nested Keras model), the groups whose keys
   differ only in their last number and that alike hold groups or only layers are a family
   (``block_1`` ... ``block_16``; ResNet's stages ``conv2`` ... ``conv5``, not its ``conv1``,
   which holds layers); the biggest family of at least ``FAMILY_MIN`` is the body. The layers
   before its first member go into ``stem`` and those after its last into ``head`` (when at
   least two and the name is free), and a body of at least ``FAMILY_WRAP`` groups goes into one
   group named by the family (``block``), which the app folds into a "block ×16" stack.
   Layers numbered themselves (a subclassed GPT's ``blocks_0`` ... ``blocks_11``) are a family
   too: a long one goes into one group (``blocks``, as PyTorch's ``blocks/0`` ...), without
   stem or head.

Only whole layers move: a layer's nested scopes (a nested model's layers) move with it.
"""

from __future__ import annotations

import re

FAMILY_MIN = 3    # numbered sibling groups that make a model's body (stem before, head after)
FAMILY_WRAP = 8   # a body this long goes into one group of its own (one "×N" stack)

_CUT = re.compile(r"(?=_)|(?<=\d)(?=[A-Za-z])")
_LAST_NUMBER = re.compile(r"\d+[A-Za-z]?$")


def keys(name: str) -> list[str]:
    """The name's group keys, shortest first (rule 1; auto names are filtered by the caller)."""
    cuts = sorted({m.start() for m in _CUT.finditer(name) if m.start() > 0} | {len(name)})
    out = []
    for i in cuts:
        k = name[:i]
        if any(ch.isdigit() for ch in k.rsplit("_", 1)[-1]):
            out.append(k)
    return out


def layer_groups(names: list[str], auto: set[str] = frozenset(), model_level: bool = True,
                 ) -> dict[str, str]:
    """Sibling layer name -> the group path to put it under (e.g. 'block/block_1'), for the
    layers of one parent in forward order; auto: names Keras made from the class (no keys);
    model_level: the parent is a model (stem/body/head apply)."""
    paths = _level(names, "", auto)
    if model_level:
        _body(names, paths, auto)
    return {n: "/".join(p) for n, p in paths.items() if p}


def _level(items: list[str], parent: str, auto: set[str]) -> dict[str, list[str]]:
    """Rule 2 on items (all extending parent): name -> its group path below parent."""
    out: dict[str, list[str]] = {n: [] for n in items}
    first = {n: next((k for k in keys(n) if len(k) > len(parent)), None)
             for n in items if n not in auto}
    runs: list[tuple[str | None, list[str]]] = []
    by_key: dict[str, list[str]] = {}
    for n in items:
        k = first.get(n)
        if parent and k is not None:   # inside a group every layer shares its prefix:
            if k not in by_key:        # a shortcut called between a block's layers joins
                runs.append((k, by_key.setdefault(k, [])))
            by_key[k].append(n)
        elif runs and k is not None and runs[-1][0] == k:
            runs[-1][1].append(n)
        else:
            runs.append((k, [n]))
    seen = [k for k, _ in runs if k is not None]
    for k, run in runs:
        if k is None or len(run) < 2 or seen.count(k) > 1 or (k in items and k not in run):
            continue
        sub = _level(run, k, auto)
        for n in run:
            out[n] = [k, *sub[n]]
    return out


def _body(names: list[str], paths: dict[str, list[str]], auto: set[str]) -> None:
    """Rule 3: stem, body (wrapped when long) and head of a model's layers."""
    top, kind = [], {}
    for n in names:
        own = n not in auto and not paths[n] and (keys(n) or [""])[-1] == n
        k = paths[n][0] if paths[n] else n if own else None
        top.append(k)
        if k is not None:   # a numbered layer (blocks_0), a group of layers or of groups
            kind[k] = "layer" if own else "groups" if len(paths[n]) > 1 else \
                kind.get(k, "layers")
    families: dict[tuple[str, str], list[str]] = {}
    for k in top:
        if k is not None:
            members = families.setdefault((_LAST_NUMBER.sub("#", k), kind[k]), [])
            if k not in members:
                members.append(k)
    family = max((f for f in families if "#" in f[0] and len(families[f]) >= FAMILY_MIN),
                 key=lambda f: len(families[f]), default=None)
    if family is None:
        return
    idx = [i for i, k in enumerate(top) if k in families[family]]
    lo, hi = idx[0], idx[-1] + 1
    taken = set(names) | {k for k in top if k is not None}
    wrap = family[0].replace("#", "").rstrip("_")
    if len(families[family]) >= FAMILY_WRAP and wrap and wrap not in taken:
        for n in names[lo:hi]:
            paths[n].insert(0, wrap)
    if family[1] == "layer":   # numbered layers (blocks_0 ... blocks_11): no stem or head
        return
    for part, label in ((names[:lo], "stem"), (names[hi:], "head")):
        if len(part) >= 2 and label not in taken:
            for n in part:
                paths[n].insert(0, label)
