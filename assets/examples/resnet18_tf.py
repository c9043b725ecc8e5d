"""ResNet-18 in Keras (functional API), one fit() step on a generated batch of 2 224x224 images.

Same architecture as resnet18_torch (torchvision's resnet18): 7x7/2 conv, BN, ReLU, 3x3/2 max
pool, four stages of two BasicBlocks (64, 128, 256, 512 channels; 1x1/2 conv + BN shortcuts when
the shape changes), global average pooling, Dense 1000; SGD with momentum, cross-entropy.
"""

from typing import Any

import tensorflow as tf

NAME = "ResNet-18"
FRAMEWORK = "tensorflow"

layers = tf.keras.layers


def conv_bn(x: tf.Tensor, filters: int, kernel: int, stride: int, name: str,
            relu: bool = True) -> tf.Tensor:
    """Conv (no bias) + BatchNorm (+ ReLU), torchvision's padding."""
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def basic_block(x: tf.Tensor, filters: int, stride: int, name: str) -> tf.Tensor:
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_down", relu=False)
    y = conv_bn(x, filters, 3, stride, f"{name}_1")
    y = conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def resnet18(num_classes: int = 1000) -> tf.keras.Model:
    """The ResNet-18 graph."""
    inputs = tf.keras.Input((224, 224, 3))
    x = conv_bn(inputs, 64, 7, 2, "stem")
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    x = layers.MaxPooling2D(3, 2, name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            x = basic_block(x, filters, stride, f"layer{stage}_{block}")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = layers.Dense(num_classes, name="fc")(x)
    return tf.keras.Model(inputs, outputs, name="resnet18")


def setup() -> dict[str, Any]:
    """Build and compile ResNet-18 and one generated batch."""
    model = resnet18()
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.make_train_function()
    data = (tf.random.normal((2, 224, 224, 3)), tf.constant([1, 7], dtype=tf.int64))

    def step() -> tf.Tensor:
        """One fit() step on the batch."""
        return model.train_function([data])["loss"]

    return {"step": step, "model": model, "optimizer": model.optimizer}


if __name__ == "__main__":
    run = setup()["step"]
    for i in range(2):
        print(f"step {i}: loss = {float(run()):.4f}")
