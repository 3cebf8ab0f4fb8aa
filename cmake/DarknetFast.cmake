# DARKNET_FAST: the optimized CPU path (csrc/fast/, see csrc/fast/fast.h).
#
# Upstream's src/gemm.c is left out of the source list by CMakeLists.txt and replaced
# by csrc/fast/gemm.c; the other files override layer forwards at load time.  GEMM is
# OpenBLAS from the scipy-openblas32 wheel (a build requirement and a runtime
# dependency): loaded by pydarknet before its extension, and in source builds also
# linked by its soname with an RPATH relative to the installed package
# (site-packages/pydarknet -> site-packages/scipy_openblas32/lib; cmake/WheelLibs.cmake),
# so no LD_LIBRARY_PATH is needed.  No -march: OpenBLAS picks its kernels for the CPU
# at run time (DYNAMIC_ARCH), our code stays baseline for its CPU (csrc/fast/arch.h).
option(DARKNET_PORTABLE "DARKNET_FAST without x86 SIMD clones: what non-x86 CPUs run" OFF)

# A cross build (tools/build_wheels.py) names the target CPU's scipy_openblas32 package
# folder: that package cannot be imported here (it loads its library at import).
set(PYDN_OPENBLAS_PACKAGE "" CACHE PATH "scipy_openblas32 folder of the target CPU (cross builds)")
if(PYDN_OPENBLAS_PACKAGE)
  set(OPENBLAS_INCLUDE_DIR "${PYDN_OPENBLAS_PACKAGE}/include")
  set(OPENBLAS_LIB_DIR "${PYDN_OPENBLAS_PACKAGE}/lib")
else()
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import scipy_openblas32 as s; print(s.get_include_dir()); print(s.get_lib_dir())"
    OUTPUT_VARIABLE _sob OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _sob_rc)
  if(NOT _sob_rc EQUAL 0)
    message(FATAL_ERROR "DARKNET_FAST needs the scipy-openblas32 package "
                        "(pip install scipy-openblas32), or -DDARKNET_FAST=OFF")
  endif()
  string(REPLACE "\n" ";" _sob "${_sob}")
  list(GET _sob 0 OPENBLAS_INCLUDE_DIR)
  list(GET _sob 1 OPENBLAS_LIB_DIR)
endif()
message(STATUS "pydarknet: DARKNET_FAST with OpenBLAS from ${OPENBLAS_LIB_DIR}")

set(FAST_SOURCES csrc/fast/gemm.c csrc/fast/conv.c csrc/fast/layers.c csrc/fast/network.c
                 csrc/fast/pool.c csrc/fast/winograd.c csrc/fast/winograd_sides.c
                 csrc/fast/kernel.c csrc/fast/arch/kernel_avx512.c
                 csrc/fast/arch/kernel_avx2.c csrc/fast/arch/kernel_portable.c
                 csrc/fast/arch/kernel_neon.c csrc/ab/ab_fast.c)
target_sources(darknet PRIVATE ${FAST_SOURCES})
target_include_directories(darknet PRIVATE csrc/fast "${OPENBLAS_INCLUDE_DIR}")
target_compile_definitions(darknet PRIVATE PYDN_FAST=1 $<$<BOOL:${DARKNET_PORTABLE}>:PYDN_PORTABLE>)
# Fast math for our layer code (vectorized expf in the epilogues), the same assumptions
# as upstream's -Ofast; compile-time only (no crtfastmath at link time).  SIMD beyond
# the x86-64 baseline only through target_clones (runtime dispatch, csrc/fast/arch.h).
set_source_files_properties(${FAST_SOURCES} PROPERTIES COMPILE_OPTIONS "-O3;-ffast-math")
if(NOT OPENBLAS_LIB_DIR MATCHES "/scipy_openblas32/lib$")
  message(FATAL_ERROR "pydarknet: unexpected scipy-openblas32 layout: ${OPENBLAS_LIB_DIR}")
endif()
pydn_wheel_library("${OPENBLAS_LIB_DIR}/libscipy_openblas.so" scipy_openblas32/lib
                   scipy-openblas32)  # linked by cmake/WheelLibs.cmake
if(SKBUILD_STATE STREQUAL "editable" AND NOT PYDARKNET_PRELOAD_DEPS)
  # pip install -e . -Ceditable.rebuild=true loads the library from the build folder,
  # where the relative path above leads nowhere: also look where OpenBLAS is now.
  set_property(TARGET darknet APPEND PROPERTY INSTALL_RPATH "${OPENBLAS_LIB_DIR}")
endif()
