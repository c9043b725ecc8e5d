"""Strict JSON (RFC 8259) for trace files: non-finite floats tagged, limits on depth and integers.

``dumps`` writes what any strict reader takes: a NaN or infinity becomes ``{"$float": "nan"}``,
``{"$float": "inf"}`` or ``{"$float": "-inf"}`` (``encode_floats``). ``loads`` reads bytes back
(``NaN``/``Infinity`` tokens of older files included), restores tagged floats
(``decode_floats``) and refuses what would trip later code: bytes that are not UTF-8, nesting
deeper than MAX_DEPTH, integers outside 64 bits, unpaired surrogate escapes. Every refusal is a
:class:`StrictJSONError` with one line.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

FLOAT_TAG = "$float"      # {"$float": "nan"} stands for a non-finite float
MAX_DEPTH = 200           # deepest nesting accepted (a trace needs about 8, plus 4 per child level)
MAX_INT = 2**63           # integers must fit in 64 bits (what strict readers in C/Java/Rust take)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJSONError(ValueError):
    """Bytes or a value that is not strict JSON within the limits; one line saying why."""


def dumps(obj: Any) -> str:
    """Compact strict JSON text of ``obj`` (non-finite floats must already be encoded)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def loads(raw: bytes) -> Any:
    """Parsed JSON of ``raw`` (tagged floats still tagged: decode_floats restores them)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"not a graphstage trace (not UTF-8 text: byte "
                              f"0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"not valid JSON, truncated or corrupt ({exc.msg}: line "
                              f"{exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise StrictJSONError(f"JSON nested too deeply (a trace file has at most {MAX_DEPTH} "
                              "levels)") from None
    except ValueError:  # an integer with more digits than Python converts
        raise StrictJSONError("a number has too many digits") from None
    if _SURROGATE.search(text):
        _check_surrogates(data)
    return data


def _check_surrogates(data: Any) -> None:
    """Reject strings holding unpaired UTF-16 surrogates (\\ud800 alone): no UTF-8 for them."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise StrictJSONError("a string holds an unpaired UTF-16 surrogate escape "
                              "(\\ud800-\\udfff), which is not text") from None
    except (RecursionError, ValueError):
        pass  # too deep or non-finite: decode_floats and the checks after it word those


def encode_floats(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its ``{"$float": ...}`` form (copies only
    the containers that change)."""
    if isinstance(obj, float):
        if obj - obj == 0.0:  # finite
            return obj
        return {FLOAT_TAG: "nan" if obj != obj else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return obj
    out = None
    for k, v in items:
        t = type(v)
        if t is str or t is int or t is bool or v is None or (t is float and v - v == 0.0):
            continue  # the common leaves, without a call
        new = encode_floats(v)
        if new is not v:
            out = (dict(obj) if isinstance(obj, dict) else list(obj)) if out is None else out
            out[k] = new
    if out is None:
        return obj if not isinstance(obj, tuple) else list(obj)
    return out


def decode_floats(obj: Any, depth: int = 0) -> Any:
    """Inverse of encode_floats for parsed JSON; also enforces MAX_DEPTH and MAX_INT."""
    if depth > MAX_DEPTH:
        raise StrictJSONError(f"nested more than {MAX_DEPTH} levels deep")
    is_dict = type(obj) is dict
    if is_dict:
        if FLOAT_TAG in obj and len(obj) == 1:
            return _tagged_float(obj[FLOAT_TAG])
        items: Any = obj.items()
    elif type(obj) is list or type(obj) is tuple:
        items = enumerate(obj)
    else:
        return _scalar(obj)
    out = None
    for k, v in items:
        t = type(v)
        if t is str or t is float or t is bool or v is None:
            continue  # the common leaves, without a call
        if t is int:
            if -MAX_INT <= v < MAX_INT:
                continue
            new = _scalar(v)
        elif t is dict or t is list or t is tuple:
            new = decode_floats(v, depth + 1)
        else:
            new = _scalar(v)
        if new is not v:
            out = (dict(obj) if is_dict else list(obj)) if out is None else out
            out[k] = new
    return obj if out is None else out


def _scalar(v: Any) -> Any:
    """A JSON scalar as it is, or StrictJSONError (an out-of-range integer, a non-JSON object)."""
    if type(v) is int and not -MAX_INT <= v < MAX_INT:
        digits = str(v)
        shown = digits if len(digits) <= 24 else f"{digits[:20]}... ({len(digits)} digits)"
        raise StrictJSONError(f"integer {shown} does not fit in 64 bits")
    if v is None or isinstance(v, (str, int, float)):  # bool is an int; str/float subclasses
        return v
    raise StrictJSONError(f"{type(v).__name__} is not a JSON value")


def _tagged_float(name: Any) -> float:
    if isinstance(name, str) and name in _NONFINITE:
        return _NONFINITE[name]
    raise StrictJSONError(f"{{{FLOAT_TAG!r}: {name!r:.40}}} is not one of 'nan', 'inf', '-inf'")
