"""A two-layer MLP classifier on generated MNIST-like 28x28 images.

Follows graphstage seed 004 (after PyTorch's quickstart tutorial), with generated data instead of
the MNIST download.
"""

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

NAME = "MNIST MLP"
FRAMEWORK = "torch"


class NeuralNetwork(nn.Module):
    """Flatten, 784 -> 512, ReLU, 512 -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(28 * 28, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        x = nn.functional.relu(self.fc1(x))
        return self.fc2(x)


def mnist_like(n: int = 1024) -> TensorDataset:
    """n random 1x28x28 images in [0, 1], mostly dark like MNIST, labelled by a fixed random
    linear rule so that the classes are learnable."""
    ink = torch.rand(n, 1, 28, 28) < 0.2
    images = torch.rand(n, 1, 28, 28) * ink
    rule = torch.randn(28 * 28, 10)
    labels = ((images.flatten(1) - images.mean()) @ rule).argmax(dim=1)
    return TensorDataset(images, labels)


def cycle(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches from loader forever, reshuffled at each epoch."""
    while True:
        yield from loader


def setup() -> dict[str, Any]:
    """Build the model, a shuffled loader over the generated data, the loss and RMSprop."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    loader = DataLoader(mnist_like(), batch_size=128, shuffle=True)
    batches = cycle(loader)
    model = NeuralNetwork().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

    def step() -> torch.Tensor:
        """One minibatch: forward, cross-entropy, backward, RMSprop update."""
        images, labels = next(batches)
        images, labels = images.to(device), labels.to(device)
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(20):
        print(f"step {i}: loss = {run().item():.4f}")
