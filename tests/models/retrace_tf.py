"""A tf.function called with a different batch size every other step: TensorFlow retraces it
for each new input shape (the most common cause of retracing)."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def setup():
    tf.random.set_seed(0)
    w = tf.Variable(tf.random.normal((4, 1)), name="w")
    data = tf.random.normal((32, 4))
    opt = tf.keras.optimizers.SGD(0.1)

    @tf.function
    def train(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(x @ w))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    sizes = [8, 8, 16, 16, 8]
    return {"step": lambda: train(data[:8]), "function": train,
            "args": lambda i: (data[: sizes[i % len(sizes)]],), "params": {"w": w}}
