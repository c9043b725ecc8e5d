"""Hugging Face BERT (BertForSequenceClassification) from a small config, random weights:
2 layers, 4 heads, hidden 64, sequence 24, batch 4, 3 classes; a classification step with Adam."""

import torch
from transformers import BertConfig, BertForSequenceClassification

FRAMEWORK = "torch"


def setup():
    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=64,
                        intermediate_size=128, vocab_size=600, max_position_embeddings=64,
                        num_labels=3)
    model = BertForSequenceClassification(config)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, config.vocab_size, (4, 24))
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 3, (4,))

    def step():
        opt.zero_grad()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        return loss

    return {"step": step, "model": model, "optimizer": opt}
