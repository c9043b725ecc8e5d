"""Two optimizers in one step: SGD on the body, Adam on the head, one loss."""
import torch

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    body = torch.nn.Linear(6, 8)
    head = torch.nn.Linear(8, 1)
    opt_body = torch.optim.SGD(body.parameters(), 0.1)
    opt_head = torch.optim.Adam(head.parameters(), 1e-2)
    x, y = torch.randn(4, 6), torch.randn(4, 1)

    def step():
        opt_body.zero_grad()
        opt_head.zero_grad()
        loss = torch.nn.functional.mse_loss(head(torch.relu(body(x))), y)
        loss.backward()
        opt_body.step()
        opt_head.step()
        return loss

    return {"step": step, "model": body, "optimizer": opt_body, "head": head,
            "opt_head": opt_head}
