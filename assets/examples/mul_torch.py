"""Scalar multiplication c = a * b with autograd, the smallest possible training step.

Follows graphstage seed 001: two leaf tensors, one multiply, one backward, no optimizer.
"""

from typing import Any

import torch

NAME = "Multiply"
FRAMEWORK = "torch"


def setup() -> dict[str, Any]:
    """Build the two leaf tensors and the step that multiplies them."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    a = torch.tensor(15.0, requires_grad=True, device=device)
    b = torch.tensor(20.0, requires_grad=True, device=device)

    def step() -> torch.Tensor:
        """c = a * b and its gradients: c = 300, a.grad = 20, b.grad = 15."""
        a.grad = None
        b.grad = None
        c = a * b
        c.backward()
        return c

    return {"step": step, "params": {"a": a, "b": b}}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(3):
        print(f"step {i}: c = {run().item():.1f}")
