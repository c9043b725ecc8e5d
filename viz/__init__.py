"""graphstage viewers: Graphviz export, the CLI and the Qt app (no torch/tensorflow here)."""
