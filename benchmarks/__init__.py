"""Benchmarks: accuracy against perceptual hashing, throughput, grouping at scale.

`make bench` runs them all (`python -m benchmarks.run`) and writes figures to benchmarks/results/.
"""
