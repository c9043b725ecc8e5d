"""Exits the whole process with os._exit(7) in its third step (no exception, no cleanup)."""

import os

import torch


def setup():
    w = torch.ones(3, requires_grad=True)
    calls = [0]

    def step():
        calls[0] += 1
        if calls[0] == 3:
            os._exit(7)
        loss = (w * 2.0).sum()
        loss.backward()
        return loss

    return {"step": step, "params": {"w": w}}
