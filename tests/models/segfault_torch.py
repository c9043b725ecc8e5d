"""Crashes the process with a segmentation fault (a bad ctypes read) in its second step."""

import ctypes

import torch


def setup():
    w = torch.ones(3, requires_grad=True)
    calls = [0]

    def step():
        calls[0] += 1
        if calls[0] == 2:
            ctypes.string_at(0)
        loss = (w * 2.0).sum()
        loss.backward()
        return loss

    return {"step": step, "params": {"w": w}}
