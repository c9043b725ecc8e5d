"""graphstage: see what PyTorch and TensorFlow build and run in a training step.

The public API (docs/api.md)::

    import graphstage
    session = graphstage.trace(step, steps=5, model=model)   # a step callable in hand
    session = graphstage.trace_script("dynamicnet_torch", steps=20)
    session.save("dyn.json"); session = graphstage.load("dyn.json")
    graphstage.export(session, "out/", format="png")
    graphstage.show(session)                                  # the desktop app

Importing graphstage imports neither torch, TensorFlow nor Qt: each loads when it is needed.
"""

from graphstage.api import export, load, record, show, trace, trace_script
from graphstage.tracers import (
    ContractError,
    ScriptError,
    TraceCancelled,
    TraceFileError,
    TraceSession,
)

__version__ = "0.1.0"

__all__ = [
    "ContractError", "ScriptError", "TraceCancelled", "TraceFileError", "TraceSession", "export",
    "load", "record", "show", "trace", "trace_script",
]
