"""Benchmarks of pixxel-mock (run on demand: `python -m bench`), never part of the tests."""
