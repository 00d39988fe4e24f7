"""Scenarios: the dataclasses, loading from TOML, the JSON Schema, workloads, distributions, checks."""
