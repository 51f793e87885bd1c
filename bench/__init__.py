"""Benchmarks and load/soak/fuzz tools; run them as modules from the repository root (`python -m bench.<name>`)."""
