"""Linear regression y = w*x + b fitted by hand-written gradient descent in TensorFlow 2.

Follows graphstage seed 000: a tf.keras.Model subclass holding two tf.Variables, a GradientTape
around the mean squared error and a naive update (w -= lr * dw) inside one tf.function step.
"""

from typing import Any

import numpy as np
import tensorflow as tf

NAME = "LinearRegression"
FRAMEWORK = "tensorflow"

LEARNING_RATE = 0.01


def generate_data(m: float = 0.1, b: float = 0.3, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """n noisy points on the line y = m*x + b, x uniform in [-10, 10]."""
    x = np.random.uniform(-10, 10, n)
    noise = np.random.normal(0, 0.15, n)
    y = m * x + b + noise
    return x.astype(np.float32), y.astype(np.float32)


class LinearRegressionKeras(tf.keras.Model):
    """y = x * w + b with a one-element weight and bias (the variables tf.function captures)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(tf.random.uniform(shape=[1], minval=-0.1, maxval=0.1), name="w")
        self.b = tf.Variable(tf.random.uniform(shape=[1], minval=-0.1, maxval=0.1), name="b")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x * self.w + self.b


def setup() -> dict[str, Any]:
    """Build the data, the model and a full-batch gradient-descent step."""
    x_np, y_np = generate_data()
    x = tf.constant(x_np.reshape(-1, 1))
    y = tf.constant(y_np.reshape(-1, 1))
    model = LinearRegressionKeras()

    @tf.function
    def step() -> tf.Tensor:
        """One full-batch gradient-descent step on the mean squared error."""
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        dw, db = tape.gradient(loss, [model.w, model.b])
        model.w.assign_sub(LEARNING_RATE * dw)
        model.b.assign_sub(LEARNING_RATE * db)
        return loss

    return {"step": step, "model": model, "params": {"w": model.w, "b": model.b}}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {float(run()):.4f}")
