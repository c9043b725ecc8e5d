"""Exceptions shared by the tracers and their callers (kept apart so no tracer imports run.py)."""


class TraceCancelled(Exception):
    """The caller's cancel() returned True between two steps."""


class RecordingComplete(BaseException):
    """Raised into a script run by ``graphstage run`` once its N steps are recorded, to stop it
    (a BaseException, like SystemExit, so a user's ``except Exception`` does not swallow it)."""
