"""The benchmark harness: `make bench` (or `python -m bench`); see docs/benchmarks.md."""
