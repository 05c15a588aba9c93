"""Junban's load tests and benchmarks (see loadtest/README.md)."""
