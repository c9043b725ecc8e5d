"""A step that raises a shape error inside the user's code."""
import torch

FRAMEWORK = "torch"


def setup():
    lin = torch.nn.Linear(3, 1)
    x = torch.randn(4, 5)                 # wrong width

    def step():
        loss = lin(x).sum()
        loss.backward()
        return loss

    return step
