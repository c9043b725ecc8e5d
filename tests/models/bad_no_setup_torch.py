"""Defines a model but no setup()."""
import torch

model = torch.nn.Linear(2, 2)
