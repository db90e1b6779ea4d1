"""Benchmarks: speed and memory figures printed by scripts (`python -m bench.<name>`), never timed tests."""
