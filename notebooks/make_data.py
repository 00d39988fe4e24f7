"""Regenerate the notebooks' precomputed data: ``python notebooks/make_data.py [storm_map] [chapter5]``.

``storm_map`` writes ``notebooks/data/storm_map.parquet`` (the retry-storm notebook's recover-or-not
map: every load x trigger cell, naive and budgeted, full horizon, seed 1; about a minute).
``chapter5`` writes ``notebooks/data/chapter5_full.parquet`` (the four-layer-defence notebook's full
model: static and defended, seeds 1-5, the files' 180 s; about 40 minutes). Both use two processes;
with no argument, both are made.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbkit import chapter5, storm_map

TARGETS = {"storm_map": storm_map.main, "chapter5": chapter5.main}

if __name__ == "__main__":
    names = sys.argv[1:] or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        sys.exit(f"error: unknown target {unknown[0]!r}: choose from {', '.join(TARGETS)}")
    for name in names:
        TARGETS[name]()
