"""Import TensorFlow lazily and quietly: only a TensorFlow trace pays for it, and its start-up
log noise stays out of the user's terminal."""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

_TF: ModuleType | None = None


def import_tf() -> ModuleType:
    """TensorFlow, imported on first use with C++ and Python logging turned down."""
    global _TF
    if _TF is not None:
        return _TF
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import absl.logging  # TF's Python logger; silence its "not initialized" warnings

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    _TF = tf
    return tf


def default_device() -> str:
    """The device TensorFlow places ops on when the graph does not say (GPU:0 when present)."""
    tf = import_tf()
    return "/device:GPU:0" if tf.config.list_logical_devices("GPU") else "/device:CPU:0"


def is_tf_function(obj: Any) -> bool:
    """Whether obj is a tf.function (a polymorphic function with get_concrete_function)."""
    tf = import_tf()
    generic = getattr(getattr(tf.types, "experimental", None), "GenericFunction", None)
    if generic is not None and isinstance(obj, generic):
        return True
    return callable(getattr(obj, "get_concrete_function", None)) and hasattr(
        obj, "experimental_get_tracing_count")
