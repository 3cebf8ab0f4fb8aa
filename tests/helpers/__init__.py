"""The tests' helper modules (not tests): references from the original program and
library, tolerant comparison of detections, generated networks, media and bad inputs.
Tests import them as ``from helpers.reference import ...`` (conftest.py puts tests/ on
sys.path); benchmarks/gpu_bench.py uses helpers.compare too."""
