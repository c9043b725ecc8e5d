"""A small convolutional classifier with batch norm on generated 28x28 images.

Two conv / batch-norm / ReLU stages, global average pooling and a linear head; SGD with momentum.
"""

from typing import Any

import torch
from torch import nn

NAME = "CNN"
FRAMEWORK = "torch"


def small_cnn() -> nn.Sequential:
    """conv(1->8) BN ReLU maxpool, conv(8->16) BN ReLU, global avgpool, linear 16 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def setup() -> dict[str, Any]:
    """Build the net, a fixed random batch of 16 images, cross-entropy and SGD."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images = torch.rand(16, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (16,), device=device)
    model = small_cnn().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> torch.Tensor:
        """Forward (batch norm in training mode), cross-entropy, backward, SGD update."""
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {run().item():.4f}")
