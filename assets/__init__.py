"""graphstage's bundled data (installed as ``graphstage.assets``): ``examples/`` holds the example
model scripts, in the same format as a user's own model script."""
