"""Hugging Face GPT-2 (tests/zoo/hf_gpt2_torch.py's small config) with transformers' gradient
checkpointing on (non-reentrant): every block's forward runs again during backward."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=64, vocab_size=500)
    model = GPT2LMHeadModel(config)
    model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, config.vocab_size, (2, 32))

    def step():
        opt.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": model, "optimizer": opt}
