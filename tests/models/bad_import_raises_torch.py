"""Raises while being imported."""
import torch  # noqa: F401

raise RuntimeError("this script is broken on purpose")
