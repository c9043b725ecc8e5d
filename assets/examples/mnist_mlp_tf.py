"""MNIST-style MLP in Keras: Sequential, compile, and the train function fit() runs per batch.

Follows graphstage seed 004: Flatten, Dense 512 relu, Dense 10 softmax, rmsprop, sparse
categorical crossentropy. No download: a fixed batch of generated 28x28 images and labels.
The traced step is Keras' own fit() step (model.make_train_function()'s one_step_on_data).
"""

from typing import Any

import numpy as np
import tensorflow as tf

NAME = "MNIST MLP"
FRAMEWORK = "tensorflow"

BATCH = 64


def setup() -> dict[str, Any]:
    """Build and compile the model and one generated batch."""
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(512, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_mlp")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.make_train_function()
    data = (tf.constant(x), tf.constant(y))

    def step() -> tf.Tensor:
        """One fit() step on the batch: Keras' train function, as model.fit runs it."""
        return model.train_function([data])["loss"]

    return {"step": step, "model": model, "optimizer": model.optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(3):
        print(f"step {i}: loss = {float(run()):.4f}")
