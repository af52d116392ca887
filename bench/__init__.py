"""Benchmarks of the node on real processes (`scripts/bench`)."""
