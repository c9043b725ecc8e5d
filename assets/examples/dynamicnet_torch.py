"""DynamicNet: an MLP that reuses its hidden layer a random 0-3 times per forward pass.

Follows graphstage seed 003 (after the dynamic-graph example in PyTorch's "Learning PyTorch
with Examples"): the graph changes from step to step.
"""

import random
from typing import Any

import torch
from torch import nn

NAME = "DynamicNet"
FRAMEWORK = "torch"


class DynamicNet(nn.Module):
    """Input layer, 0 to 3 passes through one shared hidden layer, output layer."""

    def __init__(self, D_in: int, H: int, D_out: int) -> None:
        super().__init__()
        self.input_layer = nn.Linear(D_in, H)
        self.hidden_layer = nn.Linear(H, H)
        self.output_layer = nn.Linear(H, D_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x)
        t = self.relu(x1)
        for _ in range(random.randint(0, 3)):
            t = self.relu(self.hidden_layer(t))
        return self.output_layer(t)


def setup() -> dict[str, Any]:
    """Build the net, a fixed random batch, summed MSE and Adam."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    N, D_in, H, D_out = 64, 1000, 100, 10
    inputs = torch.randn(N, D_in, device=device)
    labels = torch.randn(N, D_out, device=device)
    model = DynamicNet(D_in, H, D_out).to(device)
    loss_fn = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> torch.Tensor:
        """Forward with a freshly drawn depth, summed MSE, backward, Adam update."""
        loss = loss_fn(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {run().item():.2f}")
