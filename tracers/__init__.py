"""Framework tracers and the framework-free step-graph contract.

Importing this package never imports torch or tensorflow; :func:`trace_script` loads the framework
a script needs only when that script is traced.
"""

from graphstage.tracers.contract import ContractError, StepDiff, diff_steps, validate
from graphstage.tracers.run import TraceCancelled, trace_script
from graphstage.tracers.script import ModelScript, ScriptError, load_script
from graphstage.tracers.session import TraceFileError, TraceSession

__all__ = [
    "ContractError", "ModelScript", "ScriptError", "StepDiff", "TraceCancelled",
    "TraceFileError", "TraceSession", "diff_steps", "load_script", "trace_script", "validate",
]
