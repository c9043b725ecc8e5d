"""A GAN step: discriminator update on real and detached fake samples, then generator update
through a second discriminator call (two backward passes, two optimizers, detach)."""

import torch

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
    disc = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LeakyReLU(0.2),
                               torch.nn.Linear(16, 1))
    opt_g = torch.optim.Adam(gen.parameters(), 1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), 1e-3)
    bce = torch.nn.BCEWithLogitsLoss()
    real = torch.randn(32, 8)

    def step():
        z = torch.randn(32, 4)
        fake = gen(z)
        opt_d.zero_grad()
        d_loss = bce(disc(real), torch.ones(32, 1)) + bce(disc(fake.detach()), torch.zeros(32, 1))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(disc(fake), torch.ones(32, 1))
        g_loss.backward()
        opt_g.step()
        return g_loss

    return {"step": step, "model": gen, "params": {}, "optimizer": opt_g, "disc": disc}
