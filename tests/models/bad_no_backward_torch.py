"""A step that never calls backward."""
import torch

FRAMEWORK = "torch"


def setup():
    lin = torch.nn.Linear(3, 1)
    x = torch.randn(4, 3)
    return lambda: lin(x).sum()
