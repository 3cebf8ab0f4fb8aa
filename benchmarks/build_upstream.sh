#!/bin/sh
# Build the untouched upstream CPU path (-DDARKNET_FAST=OFF; upstream's own OpenMP
# pragmas on, so it may use the same threads) into build/upstream/, for
# benchmarks/bench_cpu.py --upstream build/upstream/libdarknet.so.
set -e
cd "$(dirname "$0")/.."
cmake -S . -B build/upstream -DCMAKE_BUILD_TYPE=Release -DDARKNET_FAST=OFF -DDARKNET_OPENMP=ON \
  -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build build/upstream --target darknet -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
