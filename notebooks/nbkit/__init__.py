"""Helpers shared by the tuning notebooks: live widgets, default scenarios, precomputed maps."""
