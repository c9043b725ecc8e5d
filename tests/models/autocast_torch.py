"""A forward pass under torch.autocast("cpu", bfloat16): linear runs in bfloat16, the loss
in float32."""
import torch

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(net.parameters(), 0.1)
    x, y = torch.randn(4, 8), torch.randn(4, 1)

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
        loss = torch.nn.functional.mse_loss(out.float(), y)
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": net, "optimizer": opt}
