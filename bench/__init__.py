"""Benchmarks: `python -m bench` (or `make bench`) prints measured figures beside a reference
measured in the same run."""
