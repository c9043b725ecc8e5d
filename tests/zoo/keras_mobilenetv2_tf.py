"""Keras applications MobileNetV2 (alpha 0.35, weights=None: random) on 32x32x3 images, batch 2,
10 classes; a tf.function training step with a GradientTape and Adam."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def setup():
    tf.random.set_seed(0)
    model = tf.keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35,
                                              weights=None, classes=10)
    opt = tf.keras.optimizers.Adam(1e-3)
    x = tf.random.normal((2, 32, 32, 3))
    y = tf.constant([1, 7])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": opt}
