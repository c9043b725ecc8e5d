"""Installing and removing what the PyTorch recorder hooks: module and optimizer hooks, the
autograd entry points, the DataLoader iterator and the op mode; all restored when a step ends.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.optim.optimizer as optim_hooks
from torch.nn.modules import module as module_hooks

from graphstage.tracers.torch_compat import dataloader_iterator_class
from graphstage.tracers.torch_util import _tensors


class HooksMixin:
    """Hooks in, and out again."""

    def __enter__(self) -> HooksMixin:
        try:
            self._hook_everything()
        except BaseException:
            self._unhook()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unhook()

    def reset(self) -> None:
        """Start a new step on the same hooks (graphstage.record between two steps)."""
        keep = (self._undo, self._handles, self._mode, self.on_boundary, self.active,
                self.optimizer_seen)
        self.__init__(self.names)
        (self._undo, self._handles, self._mode, self.on_boundary, self.active,
         self.optimizer_seen) = keep

    def deactivate(self) -> None:
        """Stop recording now: the op mode and patches go at once; the module and optimizer
        hooks (which may be mid-iteration in torch) stay as no-ops until __exit__."""
        self.active = False
        while self._undo:
            self._undo.pop()()

    def _hook_everything(self) -> None:
        self._handles = [
            module_hooks.register_module_forward_pre_hook(self._module_pre),
            module_hooks.register_module_forward_hook(self._module_post, always_call=True),
            optim_hooks.register_optimizer_step_pre_hook(self._optim_pre),
            optim_hooks.register_optimizer_step_post_hook(self._optim_post),
        ]
        self._undo.append(self._patch_autograd())
        self._undo.append(self._patch_loader())
        self._mode.__enter__()
        self._undo.append(lambda: self._mode.__exit__(None, None, None))

    def _patch_autograd(self) -> Callable[[], None]:
        """Route backward()/grad() and custom Function.apply through the recorder; returns the
        undo."""
        autograd = torch.autograd
        real_backward, real_grad = autograd.backward, autograd.grad
        function = torch.autograd.Function
        real_apply = function.__dict__["apply"]  # a classmethod

        def backward(tensors, *args, **kwargs):
            return self._run_backward(real_backward, tensors, args, kwargs)

        def grad(outputs, *args, **kwargs):
            return self._run_backward(real_grad, outputs, args, kwargs)

        def apply(cls, *args, **kwargs):
            return self._run_function(real_apply.__func__, cls, args, kwargs)

        autograd.backward, autograd.grad = backward, grad
        function.apply = classmethod(apply)

        def restore() -> None:
            autograd.backward, autograd.grad = real_backward, real_grad
            function.apply = real_apply

        return restore

    def _patch_loader(self) -> Callable[[], None]:
        """Loading a DataLoader batch is not the model: mute it, name its tensors; returns the
        undo."""
        loader_iter = dataloader_iterator_class()
        real_next, real_init = loader_iter.__next__, loader_iter.__init__

        def next_batch(it):
            muted, self.muted = self.muted, True
            try:
                batch = real_next(it)
            finally:
                self.muted = muted
            for k, t in enumerate(_tensors(batch)):  # the batch's tensors read batch[0], ...
                self.batch[id(t)] = f"batch[{k}]"
            return batch

        def new_iterator(it, *args, **kwargs):  # iter(loader) seeds its sampler with torch ops
            muted, self.muted = self.muted, True
            try:
                real_init(it, *args, **kwargs)
            finally:
                self.muted = muted

        loader_iter.__next__, loader_iter.__init__ = next_batch, new_iterator

        def restore() -> None:
            loader_iter.__next__, loader_iter.__init__ = real_next, real_init

        return restore

    def _unhook(self) -> None:
        self.deactivate()
        while self._handles:
            self._handles.pop().remove()
