"""Benchmarks: scripts that fill a database and print timings (not tests).

``python -m benchmarks.statistics --help`` times the statistics page (issue 4).
"""
