"""graphstage viewers: Graphviz export, the CLI and the Qt desktop app (no torch/tensorflow imports)."""
