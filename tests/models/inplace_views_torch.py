"""In-place ops, views and reshapes, detach and no_grad regions."""
import torch

FRAMEWORK = "torch"


def setup():
    lin = torch.nn.Linear(6, 4)
    x = torch.randn(3, 2, 3)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)

    def step():
        h = lin(x.reshape(3, 6))          # reshape (a view)
        h = h.view(3, 2, 2).transpose(1, 2).flatten(1)
        h.mul_(2.0)                        # in-place on a non-leaf
        h.add_(torch.ones(4))              # in-place with a tensor operand
        h = torch.relu_(h)
        baseline = h.detach().mean()       # detach: no gradient through here
        with torch.no_grad():
            scale = h.abs().max()          # no_grad region
        loss = ((h - baseline) / (scale + 1)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": lin, "optimizer": opt}
