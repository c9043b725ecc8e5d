"""Scalar multiplication c = a * b as a TensorFlow 1.x static graph run by a Session.

Follows graphstage seed 001 (TF1 version): tf.compat.v1 placeholders, tf.gradients and
Session.run with a feed_dict, built in its own tf.Graph so TF2 behaviour stays on elsewhere.
c = 300, dc/da = 20, dc/db = 15, as in mul_torch.
"""

from typing import Any

import tensorflow as tf

NAME = "Multiply (TF1)"
FRAMEWORK = "tensorflow"

tf1 = tf.compat.v1


def setup() -> dict[str, Any]:
    """Build the graph (placeholders, multiply, gradients) and a Session to run it."""
    graph = tf.Graph()
    with graph.as_default():
        a = tf1.placeholder(tf.float32, name="a")
        b = tf1.placeholder(tf.float32, name="b")
        c = tf.multiply(a, b, name="c")
        da, db = tf1.gradients(c, [a, b])
    session = tf1.Session(graph=graph)
    feed_dict = {a: 15.0, b: 20.0}
    fetches = [c, da, db]

    def step() -> float:
        """Run c, dc/da and dc/db with the feed_dict: 300, 20, 15."""
        return session.run(fetches, feed_dict=feed_dict)[0]

    return {"step": step, "graph": graph, "session": session, "fetches": fetches,
            "feed_dict": feed_dict, "loss": c, "grads": {a: da, b: db}}


if __name__ == "__main__":
    print("c =", setup()["step"]())
