"""A loss that does not require grad: every parameter is detached."""
import torch

FRAMEWORK = "torch"


def setup():
    lin = torch.nn.Linear(3, 1)
    x = torch.randn(4, 3)

    def step():
        loss = lin(x).detach().pow(2).sum()
        loss.backward()
        return loss

    return step
