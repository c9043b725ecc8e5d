"""DynamicNet with its depth drawn in the graph: tf.random plus a tf.while_loop.

Follows graphstage seed 003's static-graph answer to dynamic models: the loop is part of the
graph, so the one traced graph holds a While op whose body is the shared hidden Dense+ReLU, and
the tape's gradient of it is a second (backward) While loop.
"""

from typing import Any

import tensorflow as tf

NAME = "DynamicNet (tf.while_loop)"
FRAMEWORK = "tensorflow"


class DynamicNet(tf.keras.Model):
    """Input layer, an in-graph random 0 to 3 passes through the shared hidden layer, output."""

    def __init__(self, D_in: int, H: int, D_out: int) -> None:
        super().__init__()
        self.input_layer = tf.keras.layers.Dense(H, name="input_layer")
        self.hidden_layer = tf.keras.layers.Dense(H, name="hidden_layer")
        self.output_layer = tf.keras.layers.Dense(D_out, name="output_layer")
        self.input_layer.build((None, D_in))
        self.hidden_layer.build((None, H))
        self.output_layer.build((None, H))
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        t = tf.nn.relu(self.input_layer(x))
        depth = tf.random.uniform([], 0, 4, dtype=tf.int32, name="depth")

        def body(i: tf.Tensor, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return i + 1, tf.nn.relu(self.hidden_layer(t))

        _, t = tf.while_loop(lambda i, _t: i < depth, body, [tf.constant(0), t],
                             name="hidden_loop")
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
        """Forward with an in-graph random depth, summed MSE, tape gradients, Adam update."""
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
