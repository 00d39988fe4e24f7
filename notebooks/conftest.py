"""pytest runs the notebooks (``--nbmake notebooks``) in test mode: short horizons, synchronous re-runs."""

import os

os.environ.setdefault("RWB_NOTEBOOK_TEST", "1")
