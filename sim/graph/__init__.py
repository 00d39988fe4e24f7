"""Multi-tier call graphs: services calling services through real pipelines (see docs/multi-tier.md)."""
