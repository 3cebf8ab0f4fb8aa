"""Darknet built with CUDA 13 and cuDNN: the GPU plugin of pydarknet.

Nothing to import by hand: pydarknet loads ``pydarknet_cu13._darknet`` (the cffi
extension of ``libdarknet_cu13.so``) when a network asks for a GPU, and keeps its own
CPU library for CPU networks.  See pydarknet's docs/gpu.md.
"""
