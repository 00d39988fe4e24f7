"""Metric catalog and exporters."""

from .catalog import CATALOG, LATENCY_BUCKETS, MetricSpec, MetricType, metric

__all__ = ["CATALOG", "LATENCY_BUCKETS", "MetricSpec", "MetricType", "metric"]
