"""What a run records: counters cut into bins, metric series, latency histograms, the result."""
