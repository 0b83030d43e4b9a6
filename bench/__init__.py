"""Benchmarks behind `make bench`: a local feed farm, the raw-client floor, and measurements."""
