"""Keep PySide6 6.12 from crashing CPython 3.11: import this before driving Qt from Python.

PySide6 6.12 on CPython < 3.12 drops one reference to None on every call of a C++ method that
returns void (QColor.setAlpha, QPainter.setPen, QGraphicsItem.setPos, ...); some 10^5 calls end
in "Fatal Python error: none_dealloc" (reproduced here: 100,000 QColor.setAlpha calls). None is
immortal from CPython 3.12 on; before that we give it 2**40 extra references, once.
"""

import sys

if sys.implementation.name == "cpython" and sys.version_info < (3, 12):
    import ctypes

    if sys.getrefcount(None) < 1 << 40:
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
