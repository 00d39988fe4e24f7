"""The alert tests share the dashboard tests' kit (sample configs, PromQL AST walk)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "dashboards"))
