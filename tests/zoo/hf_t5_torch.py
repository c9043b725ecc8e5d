"""Hugging Face T5 (T5ForConditionalGeneration) from a small config, random weights: encoder
and decoder of 2 layers each, d 64, source 16 / target 12 tokens, batch 2; a seq2seq step."""

import torch
from transformers import T5Config, T5ForConditionalGeneration

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    config = T5Config(vocab_size=400, d_model=64, d_kv=16, d_ff=128, num_layers=2,
                      num_decoder_layers=2, num_heads=4, decoder_start_token_id=0)
    model = T5ForConditionalGeneration(config)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src = torch.randint(1, config.vocab_size, (2, 16))
    tgt = torch.randint(1, config.vocab_size, (2, 12))

    def step():
        opt.zero_grad()
        loss = model(input_ids=src, labels=tgt).loss
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": model, "optimizer": opt}
