"""``python -m sim.cli``: the ``rwb`` command."""

import sys

from sim.cli import main

sys.exit(main())
