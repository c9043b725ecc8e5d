"""DynamicNet in TensorFlow: Python's random depth is frozen when tf.function traces the step.

Follows graphstage seed 003: input Dense+ReLU, the shared hidden Dense+ReLU applied
random.randint(0, 3) times, output Dense; summed MSE, Adam 1e-4, batch 64. Inside a tf.function
random.randint runs once, at trace time, so every step runs the same static graph (compare
dynamicnet_torch, whose graph changes every forward, and dynamicnet_while_tf).
"""

import random
from typing import Any

import tensorflow as tf

NAME = "DynamicNet"
FRAMEWORK = "tensorflow"


class DynamicNet(tf.keras.Model):
    """Input layer, 0 to 3 passes through one shared hidden layer, output layer."""

    def __init__(self, D_in: int, H: int, D_out: int) -> None:
        super().__init__()
        self.input_layer = tf.keras.layers.Dense(H, name="input_layer")
        self.hidden_layer = tf.keras.layers.Dense(H, name="hidden_layer")
        self.output_layer = tf.keras.layers.Dense(D_out, name="output_layer")
        self.build((None, D_in))

    def build(self, input_shape: tuple) -> None:
        self.input_layer.build(input_shape)
        self.hidden_layer.build((None, self.input_layer.units))
        self.output_layer.build((None, self.hidden_layer.units))
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        t = tf.nn.relu(self.input_layer(x))
        for _ in range(random.randint(0, 3)):  # runs once, while tf.function traces
            t = tf.nn.relu(self.hidden_layer(t))
        return self.output_layer(t)


def setup() -> dict[str, Any]:
    """Build the net, a fixed random batch, summed MSE and Adam."""
    N, D_in, H, D_out = 64, 1000, 100, 10
    inputs = tf.random.normal((N, D_in))
    labels = tf.random.normal((N, D_out))
    model = DynamicNet(D_in, H, D_out)
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-4)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step() -> tf.Tensor:
        """Forward (depth frozen at trace time), summed MSE, tape gradients, Adam update."""
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(inputs) - labels))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(5):
        print(f"step {i}: loss = {float(run()):.2f}")
