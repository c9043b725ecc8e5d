"""Hugging Face GPT-2 (transformers' own GPT2LMHeadModel) from a small config, random weights:
2 layers, 4 heads, d 64, sequence 32, batch 2; a language-modelling step with AdamW."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=64, vocab_size=500)
    model = GPT2LMHeadModel(config)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, config.vocab_size, (2, 32))

    def step():
        opt.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": model, "optimizer": opt}
