"""A 12-layer GPT-style decoder (pre-LayerNorm, causal self-attention) in Keras, tf.function step.

Same model as gpt_torch (the GPT-2 layout as written out in minGPT/nanoGPT, shrunk to d_model 256
and vocab 512): learned token + position embeddings, 12 blocks of explicit causal self-attention
and a GELU MLP, final LayerNorm, LM head; next-token cross-entropy on random token ids, AdamW.
Layers carry the torch module names, so name scopes read gpt/blocks_0/attn/qkv/... .
"""

import math
from typing import Any

import numpy as np
import tensorflow as tf

NAME = "GPT (12 layers)"
FRAMEWORK = "tensorflow"

VOCAB_SIZE = 512
SEQ_LEN = 64
D_MODEL = 256
N_HEADS = 4
N_LAYERS = 12
BATCH_SIZE = 2

layers = tf.keras.layers


class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention where each position sees only itself and earlier positions."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_heads = n_heads
        self.qkv = layers.Dense(3 * d_model, name="qkv")
        self.proj = layers.Dense(d_model, name="proj")
        self.mask = np.tril(np.ones((max_len, max_len), dtype=bool))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        _, T, C = x.shape
        head_dim = C // self.n_heads
        q, k, v = tf.split(self.qkv(x), 3, axis=2)
        q = tf.transpose(tf.reshape(q, (-1, T, self.n_heads, head_dim)), (0, 2, 1, 3))
        k = tf.transpose(tf.reshape(k, (-1, T, self.n_heads, head_dim)), (0, 2, 1, 3))
        v = tf.transpose(tf.reshape(v, (-1, T, self.n_heads, head_dim)), (0, 2, 1, 3))
        # q, k, v: (B, heads, T, head_dim)
        att = tf.matmul(q, k, transpose_b=True) / math.sqrt(head_dim)
        att = tf.where(tf.constant(self.mask[:T, :T]), att, float("-inf"))
        att = tf.nn.softmax(att, axis=-1)
        y = tf.reshape(tf.transpose(tf.matmul(att, v), (0, 2, 1, 3)), (-1, T, C))
        return self.proj(y)


class MLP(layers.Layer):
    """Position-wise feed-forward: d_model -> 4*d_model, GELU, back to d_model."""

    def __init__(self, d_model: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = layers.Dense(4 * d_model, name="fc")
        self.act = layers.Activation("gelu", name="act")  # exact (erf) GELU, like nn.GELU()
        self.proj = layers.Dense(d_model, name="proj")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.proj(self.act(self.fc(x)))


class Block(layers.Layer):
    """Pre-LayerNorm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ln1 = layers.LayerNormalization(epsilon=1e-5, name="ln1")
        self.attn = CausalSelfAttention(d_model, n_heads, max_len, name="attn")
        self.ln2 = layers.LayerNormalization(epsilon=1e-5, name="ln2")
        self.mlp = MLP(d_model, name="mlp")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(tf.keras.Model):
    """Token + learned position embeddings, a stack of blocks, final LayerNorm, LM head."""

    def __init__(self, vocab_size: int, max_len: int, d_model: int, n_heads: int,
                 n_layers: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tok_emb = layers.Embedding(vocab_size, d_model, name="tok_emb")
        self.pos_emb = layers.Embedding(max_len, d_model, name="pos_emb")
        self.blocks = [Block(d_model, n_heads, max_len, name=f"blocks_{i}")
                       for i in range(n_layers)]
        self.ln_f = layers.LayerNormalization(epsilon=1e-5, name="ln_f")
        self.head = layers.Dense(vocab_size, use_bias=False, name="head")

    def call(self, idx: tf.Tensor) -> tf.Tensor:
        positions = tf.range(idx.shape[1])
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def setup() -> dict[str, Any]:
    """Build the model, a fixed batch of random token ids, cross-entropy and AdamW."""
    tokens = tf.random.uniform((BATCH_SIZE, SEQ_LEN + 1), 0, VOCAB_SIZE, dtype=tf.int32)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    model = GPT(VOCAB_SIZE, SEQ_LEN, D_MODEL, N_HEADS, N_LAYERS, name="gpt")
    model(inputs)  # build every layer's variables under its name scope
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.AdamW(learning_rate=3e-4, weight_decay=0.01)  # torch defaults
    optimizer.build(model.trainable_variables)

    @tf.function
    def step() -> tf.Tensor:
        """Predict each next token, cross-entropy over all positions, tape gradients, AdamW."""
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {float(run()):.4f}")
