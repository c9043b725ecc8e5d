"""nn.LSTM, nn.GRU and nn.MultiheadAttention in one model, two losses summed."""
import torch
from torch import nn

FRAMEWORK = "torch"


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)
        self.aux = nn.Linear(8, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        a, _ = self.attn(h, h, h)
        return self.head(a[:, -1]), self.aux(a.mean(1))   # several outputs


def setup():
    model = Seq()
    x = torch.randn(2, 5, 8)
    y = torch.randint(0, 3, (2,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        logits, aux = model(x)
        loss = nn.functional.cross_entropy(logits, y) + aux.pow(2).mean()   # two losses
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": model, "optimizer": opt}
