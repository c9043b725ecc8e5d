"""Linear regression y = m*x + b fitted by hand-written gradient descent.

Follows graphstage seed 000: a two-parameter nn.Module, MSE loss, full-batch updates.
"""

from typing import Any

import numpy as np
import torch
from torch import nn

NAME = "LinearRegression"
FRAMEWORK = "torch"

LEARNING_RATE = 0.01


def generate_data(m: float = 0.1, b: float = 0.3, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """n noisy points on the line y = m*x + b, x uniform in [-10, 10]."""
    x = np.random.uniform(-10, 10, n)
    noise = np.random.normal(0, 0.15, n)
    y = m * x + b + noise
    return x.astype(np.float32), y.astype(np.float32)


class LinearRegressionPyTorch(nn.Module):
    """y = x @ w + b with a 1x1 weight and a scalar bias."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.Tensor(1, 1).uniform_(-0.1, 0.1))
        self.b = nn.Parameter(torch.Tensor(1).uniform_(-0.1, 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w + self.b


def setup() -> dict[str, Any]:
    """Build the data, the model and a gradient-descent step over the full batch."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_np, y_np = generate_data()
    x = torch.from_numpy(x_np).reshape(-1, 1).to(device)
    y = torch.from_numpy(y_np).reshape(-1, 1).to(device)
    model = LinearRegressionPyTorch().to(device)

    def step() -> torch.Tensor:
        """One full-batch gradient-descent step on the mean squared error."""
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        with torch.no_grad():
            model.w -= LEARNING_RATE * model.w.grad
            model.b -= LEARNING_RATE * model.b.grad
            model.w.grad.zero_()
            model.b.grad.zero_()
        return loss

    return {"step": step, "model": model}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {run().item():.4f}")
