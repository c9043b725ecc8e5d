"""Exceptions shared by the tracers and their callers (kept apart so no tracer imports run.py)."""


class TraceCancelled(Exception):
    """The caller's cancel() returned True between two steps."""
