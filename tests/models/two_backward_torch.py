"""Two losses with two backward calls, and a parameter that never gets a gradient."""
import torch
from torch import nn

FRAMEWORK = "torch"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.head_a = nn.Linear(4, 1)
        self.head_b = nn.Linear(4, 1)
        self.unused = nn.Linear(4, 4)          # never called: no gradient

    def forward(self, x):
        h = torch.tanh(self.body(x))
        return self.head_a(h), self.head_b(h)


def setup():
    net = Net()
    x = torch.randn(6, 4)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        a, b = net(x)
        loss_a = a.pow(2).mean()
        loss_b = (b - 1).abs().mean()
        loss_a.backward(retain_graph=True)
        loss_b.backward()
        opt.step()
        return loss_a + loss_b

    return {"step": step, "model": net, "optimizer": opt}
