"""Every private PyTorch API graphstage uses, smoke-tested on the installed torch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from graphstage.tracers import torch_compat  # noqa: E402


def test_installed_torch_is_in_the_checked_range():
    assert torch_compat.check_version()


def test_dataloader_iterator_class_is_what_iter_returns():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 2)))
    assert isinstance(iter(loader), torch_compat.dataloader_iterator_class())


def test_dispatch_mode_sees_aten_ops():
    seen = []

    class Log(torch_compat.dispatch_mode_class()):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Log():
        torch.ones(2) * 3
    assert "mul" in seen


def test_saved_tensor_attrs_read_what_backward_keeps():
    a = torch.ones(3, requires_grad=True)
    out = a * torch.full((3,), 2.0)
    names = torch_compat.saved_tensor_attrs(out.grad_fn)
    assert {"_saved_other", "_saved_self"} <= set(names)
    assert out.grad_fn._saved_other.sum().item() == 6.0


def test_checkpoint_hooks_seen_only_inside_a_non_reentrant_checkpoint():
    import torch.utils.checkpoint

    seen = []

    def block(x):
        seen.append(torch_compat.checkpoint_hooks_active())
        return x.sin()

    x = torch.ones(2, requires_grad=True)
    torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False).sum().backward()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        block(x)
    block(x)
    # the forward; not the rerun in backward (other hooks), nor other hooks, nor none
    assert seen == [True, False, False, False]
