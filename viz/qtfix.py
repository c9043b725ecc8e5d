"""Work around PySide6's None-refcount leak on CPython < 3.12, only where it really happens.

PySide6 6.12 on CPython 3.11 drops one reference to None on every call of a C++ method that
returns void (QColor.setAlpha, QPainter.setPen, QGraphicsItem.setPos, ...); some 10^5 calls end
in "Fatal Python error: none_dealloc". None is immortal from CPython 3.12 on. :func:`apply`
measures the leak on the PySide6 in use (64 calls of QColor.setAlpha) and, only if it is there,
gives None 2**40 extra references, once per process. tests/test_qtfix.py reproduces the bug.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)
PROBE_CALLS = 64
_done: bool | None = None


def leaks_none(calls: int = PROBE_CALLS) -> int:
    """References to None lost over ``calls`` void-returning Qt calls (0 where no leak)."""
    from PySide6.QtGui import QColor

    color = QColor(0, 0, 0)
    before = sys.getrefcount(None)
    for _ in range(calls):
        color.setAlpha(1)
    return max(0, before - sys.getrefcount(None))


def apply() -> bool:
    """Measure once; pin None's refcount if this PySide6/CPython leaks it. Returns whether the
    workaround is in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    import PySide6

    lost = leaks_none()
    if lost >= PROBE_CALLS // 2:
        import ctypes

        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
        _done = True
    log.debug("PySide6 %s on CPython %s: %d of %d None references lost; workaround %s",
              PySide6.__version__, sys.version.split()[0], lost, PROBE_CALLS,
              "applied" if _done else "not needed")
    return _done
