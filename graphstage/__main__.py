"""``python -m graphstage``: the same as the ``graphstage`` command."""

import sys

from graphstage.viz.cli import main

sys.exit(main())
