"""A small Keras functional CNN with a residual block (Conv/BatchNorm/ReLU, Add, global
pooling, Dense), random weights, 16x16x3 images, batch 4; a tf.function step with SGD."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def setup():
    tf.random.set_seed(0)
    keras = tf.keras
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", name="stem_conv")(inputs)
    h = keras.layers.BatchNormalization(name="stem_bn")(h)
    h = keras.layers.ReLU(name="stem_relu")(h)
    r = keras.layers.Conv2D(8, 3, padding="same", name="block_conv")(h)
    r = keras.layers.BatchNormalization(name="block_bn")(r)
    h = keras.layers.Add(name="block_add")([h, r])
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    outputs = keras.layers.Dense(5, name="head")(h)
    model = keras.Model(inputs, outputs, name="small_resnet")
    opt = keras.optimizers.SGD(0.01)
    x = tf.random.normal((4, 16, 16, 3))
    y = tf.constant([0, 1, 2, 3])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": opt}
