"""Benchmark suite comparing wfkit with LangGraph and a bare-Python floor.

Run ``python -m benchmarks.run`` from the repository root; see
``benchmarks/run.py`` for options and ``benchmarks/scenarios.py`` for the
scenario registry.
"""
