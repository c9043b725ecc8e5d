"""The private PyTorch APIs graphstage relies on, in one place, with the versions checked.

Each accessor returns the private object or raises CompatError naming what moved; the tracer
logs (``graphstage`` logger, visible with ``--verbose``) when torch is outside the checked range.
tests/test_torch_compat.py smoke-tests every accessor on the installed torch.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger("graphstage.torch")
CHECKED = ("2.2", "2.13")  # oldest and newest torch (major.minor) these were checked on


class CompatError(RuntimeError):
    """A private torch API graphstage uses is not where it was."""


def check_version() -> bool:
    """Whether the installed torch lies in the checked range (logged when it does not)."""
    major_minor = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    low, high = (tuple(int(x) for x in v.split(".")) for v in CHECKED)
    ok = low <= major_minor <= high
    if not ok:
        log.warning("torch %s is outside the versions graphstage was checked on (%s to %s)",
                    torch.__version__, *CHECKED)
    return ok


def dataloader_iterator_class() -> type:
    """DataLoader's iterator base class (patched so loading a batch is not recorded)."""
    cls = getattr(torch.utils.data.dataloader, "_BaseDataLoaderIter", None)
    if cls is None:
        raise CompatError("torch.utils.data.dataloader._BaseDataLoaderIter is gone")
    return cls


def dispatch_mode_class() -> type:
    """TorchDispatchMode (graphstage verify's independent ATen log)."""
    from torch.utils import _python_dispatch

    return _python_dispatch.TorchDispatchMode


def saved_tensor_attrs(fn: Any) -> list[str]:
    """The ``_saved_*`` attributes of an autograd node: what it saved for backward."""
    return [a for a in dir(fn) if a.startswith("_saved_")]


def _top_saved_tensors_hooks() -> Any:
    top = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)
    if top is None:
        raise CompatError("torch._C._autograd._top_saved_tensors_default_hooks is gone")
    return top


_TOP_HOOKS = _top_saved_tensors_hooks()


def checkpoint_hooks_active() -> bool:
    """Whether the innermost saved-tensor hooks are non-reentrant activation checkpointing's
    (torch.utils.checkpoint): the ops running now save nothing and run again in backward."""
    top = _TOP_HOOKS(False)
    return top is not None and getattr(top[0], "__module__", "") == "torch.utils.checkpoint" \
        and getattr(top[0], "__qualname__", "").startswith("_checkpoint_hook.")
