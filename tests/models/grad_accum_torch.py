"""Gradient accumulation: two micro-batches, two backward passes, one optimizer step."""
import torch

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(net.parameters(), 0.05)
    batches = [(torch.randn(4, 6), torch.randn(4, 1)) for _ in range(2)]

    def step():
        opt.zero_grad()
        for xb, yb in batches:
            loss = torch.nn.functional.mse_loss(net(xb), yb) / len(batches)
            loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": net, "optimizer": opt, "batches": batches}
