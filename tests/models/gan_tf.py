"""A tiny GAN: each step calls two tf.functions, the discriminator's train function, then the
generator's (which reads the discriminator's weights without training them)."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def setup():
    tf.random.set_seed(0)
    gen = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(4, name="g_out")],
                              name="gen")
    disc = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1, name="d_out")],
                               name="disc")
    d_opt, g_opt = tf.keras.optimizers.SGD(0.05), tf.keras.optimizers.SGD(0.05)
    d_opt.build(disc.trainable_variables)
    g_opt.build(gen.trainable_variables)
    real = tf.random.normal((8, 4))
    noise = tf.random.normal((8, 2))
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_d():
        with tf.GradientTape() as tape:
            r, f = disc(real), disc(gen(noise))
            loss = bce(tf.ones_like(r), r) + bce(tf.zeros_like(f), f)
        d_opt.apply_gradients(zip(tape.gradient(loss, disc.trainable_variables),
                                  disc.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_g():
        with tf.GradientTape() as tape:
            f = disc(gen(noise))
            loss = bce(tf.ones_like(f), f)
        g_opt.apply_gradients(zip(tape.gradient(loss, gen.trainable_variables),
                                  gen.trainable_variables, strict=True))
        return loss

    def step():
        return train_d(), train_g()

    return {"step": step, "model": gen, "variables": disc.variables}
