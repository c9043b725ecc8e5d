"""The graphstage desktop app: PySide6 windows that animate traced step graphs.

Importing this package imports nothing heavy; ``viz.gui.app.main`` is the entry point.
"""

from graphstage.viz import qtfix

qtfix.apply()  # before any Qt call: PySide6 6.12 / CPython 3.11 None refcount leak, if present
