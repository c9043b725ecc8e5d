"""An ordinary TensorFlow training script (no graphstage in it): argparse, tf.data, a
@tf.function train step with GradientTape and a Keras optimizer, epochs."""

import argparse

import tensorflow as tf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--log", default=None)
    args = ap.parse_args()
    tf.random.set_seed(0)
    data = tf.data.Dataset.from_tensor_slices((tf.random.normal((64, 8)),
                                               tf.random.normal((64, 1)))).batch(16)
    model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(16, name="body"),
                                 tf.keras.layers.Dense(1, name="head")], name="regressor")
    optimizer = tf.keras.optimizers.SGD(0.05)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    losses = []
    for _epoch in range(args.epochs):
        for x, y in data:
            losses.append(float(train_step(x, y)))
    if args.log:
        with open(args.log, "w") as fh:
            fh.write("\n".join(map(repr, losses)))
    print("TRAINING DONE", len(losses))


if __name__ == "__main__":
    main()
