"""Activation checkpointing: one block under torch.utils.checkpoint without reentrance, a second
with it (both run their forward again during backward), then a plain head."""
import torch
import torch.utils.checkpoint

FRAMEWORK = "torch"


def block() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8))


def setup():
    torch.manual_seed(0)
    net = torch.nn.ModuleDict({"a": block(), "b": block(), "head": torch.nn.Linear(8, 1)})
    opt = torch.optim.SGD(net.parameters(), 0.1)
    x = torch.randn(4, 8)

    def step():
        opt.zero_grad()
        h = torch.utils.checkpoint.checkpoint(net["a"], x, use_reentrant=False)
        h = torch.utils.checkpoint.checkpoint(net["b"], h, use_reentrant=True)
        loss = net["head"](h).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": net, "optimizer": opt}
