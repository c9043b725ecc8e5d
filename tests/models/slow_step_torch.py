"""A deliberately slow step (0.3 s) for GUI responsiveness and cancel tests."""
import time

import torch

FRAMEWORK = "torch"


def setup():
    lin = torch.nn.Linear(3, 1)
    x = torch.randn(4, 3)

    def step():
        time.sleep(0.3)
        loss = lin(x).pow(2).sum()
        lin.zero_grad()
        loss.backward()
        return loss

    return {"step": step, "model": lin}
