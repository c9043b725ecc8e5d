"""An eager step (run as written) that calls a user tf.function with the batch size a Python
counter picks: 8, 8, 16, 8. TensorFlow traces train() anew on steps 0 and 2 (a new input
shape) and reuses the first trace on step 3; the counter advances once per step."""

import tensorflow as tf

FRAMEWORK = "tensorflow"
SIZES = (8, 8, 16, 8)


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

    state = {"steps": 0, "losses": []}

    def step():
        n = SIZES[state["steps"] % len(SIZES)]
        state["steps"] += 1
        loss = train(data[:n])
        state["losses"].append(float(loss))  # eager: .numpy() works here
        return loss

    return {"step": step, "params": {"w": w}, "state": state}
