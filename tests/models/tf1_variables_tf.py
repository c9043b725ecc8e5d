"""A TF1 graph with a ref variable, a resource variable and Adam (slots, beta powers), run by a
Session; the initializers are in the graph but not run by the step."""
import numpy as np
import tensorflow as tf

NAME = "TF1 variables"
FRAMEWORK = "tensorflow"
tf1 = tf.compat.v1


def setup():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [4, 3], name="x")
        y = tf1.placeholder(tf.float32, [4, 1], name="y")
        w = tf1.get_variable("w", [3, 1], use_resource=False)
        b = tf1.get_variable("b", [1], use_resource=True)
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y), name="loss")
        opt = tf1.train.AdamOptimizer(0.01)
        train = opt.apply_gradients(opt.compute_gradients(loss, [w, b]))
        init = tf1.global_variables_initializer()
    sess = tf1.Session(graph=graph)
    sess.run(init)
    feed = {x: np.ones([4, 3], np.float32), y: np.zeros([4, 1], np.float32)}
    fetches = [loss, train]
    return {"step": lambda: sess.run(fetches, feed)[0], "graph": graph, "session": sess,
            "fetches": fetches, "feed_dict": feed, "loss": loss}
