"""A purely eager TensorFlow step (no tf.function): a Keras model, GradientTape and Adam, run
op by op as written."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def setup():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, name="d1"),
                                 tf.keras.layers.ReLU(name="act"),
                                 tf.keras.layers.Dense(1, name="d2")], name="net")
    opt = tf.keras.optimizers.Adam(0.01)
    x, y = tf.random.normal((16, 4)), tf.random.normal((16, 1))

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": opt}
