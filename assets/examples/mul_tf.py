"""Scalar multiplication c = a * b differentiated by a GradientTape inside a tf.function.

Follows graphstage seed 001 (TF2 version): two tf.Variables, one multiply, tape gradients, no
optimizer. c = 300, dc/da = 20, dc/db = 15, as in mul_torch.
"""

from typing import Any

import tensorflow as tf

NAME = "Multiply"
FRAMEWORK = "tensorflow"


def setup() -> dict[str, Any]:
    """Build the two variables and the traced step that multiplies them."""
    a = tf.Variable(15.0, name="a")
    b = tf.Variable(20.0, name="b")

    @tf.function
    def step() -> tf.Tensor:
        """c = a * b and its gradients: c = 300, dc/da = 20, dc/db = 15."""
        with tf.GradientTape() as tape:
            c = tf.multiply(a, b, name="c")
        tape.gradient(c, [a, b])
        return c

    return {"step": step, "params": {"a": a, "b": b}}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(3):
        print(f"step {i}: c = {float(run()):.1f}")
