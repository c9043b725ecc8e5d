"""A small CNN in Keras trained with SGD momentum inside one tf.function step.

Twin of cnn_torch: Conv(8, 3) + BatchNorm + ReLU + MaxPool, Conv(16, 3) + BatchNorm + ReLU,
global average pooling, Dense 10; softmax cross-entropy on a generated batch.
"""

from typing import Any

import tensorflow as tf

NAME = "CNN"
FRAMEWORK = "tensorflow"

layers = tf.keras.layers


def setup() -> dict[str, Any]:
    """Build the CNN, a generated batch, the loss and SGD with momentum."""
    x = tf.random.normal((16, 28, 28, 1))
    y = tf.random.uniform((16,), 0, 10, dtype=tf.int64)
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, padding="same", name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.ReLU(name="relu1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 3, padding="same", name="conv2"),
        layers.BatchNormalization(name="bn2"),
        layers.ReLU(name="relu2"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(10, name="fc"),
    ], name="cnn")
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step() -> tf.Tensor:
        """Forward (BatchNorm in training mode), cross-entropy, tape gradients, SGD update."""
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return {"step": step, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(3):
        print(f"step {i}: loss = {float(run()):.4f}")
