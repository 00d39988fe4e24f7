"""Regenerate the notebooks' precomputed data: ``python notebooks/make_data.py``.

Writes ``notebooks/data/storm_map.parquet`` (the retry-storm notebook's recover-or-not map:
every load x trigger cell, naive and budgeted, full horizon, seed 1) using two processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbkit import storm_map

if __name__ == "__main__":
    storm_map.main()
