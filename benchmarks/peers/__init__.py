"""Peer libraries in their documented, idiomatic form; never tuned for our benchmarks."""
