# The CUDA (+ cuDNN) side of the build: included by CMakeLists.txt when DARKNET_GPU=ON.
#
# Sets DARKNET_CUDA_SOURCES (upstream's .cu files), DARKNET_CUDA_INCLUDES, and for
# libcudart, libcublas, libcurand and, with DARKNET_CUDNN, libcudnn: those from NVIDIA's
# wheels through pydn_wheel_library (cmake/WheelLibs.cmake), those from a toolkit in
# DARKNET_CUDA_LIBS (full paths) and DARKNET_CUDA_RPATH (their folders).
#
# Libraries come from NVIDIA's Python wheels (nvidia-cuda-runtime, nvidia-cublas,
# nvidia-curand, nvidia-cudnn-cu13 / their -cu12 twins) when the building Python can
# import them, else from a CUDA toolkit (CUDAToolkit_ROOT, /usr/local/cuda) and a system
# cuDNN (CUDNN_ROOT).  Wheel libraries are loaded by pydarknet at run time (and in
# source builds also found through an RPATH relative to site-packages); toolkit
# libraries through their absolute directory.

# nvcc: CUDACXX / CMAKE_CUDA_COMPILER, PATH, else the usual toolkit folders.
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(_nvcc nvcc)
  if(NOT _nvcc)
    find_program(_nvcc nvcc PATHS "$ENV{CUDA_HOME}/bin" "$ENV{CUDA_PATH}/bin"
                 /usr/local/cuda/bin /opt/cuda/bin NO_DEFAULT_PATH)
  endif()
  if(_nvcc)
    set(CMAKE_CUDA_COMPILER "${_nvcc}")
  endif()
endif()

# sm_75 (Turing, the oldest CUDA 13 supports) ... sm_90 (Hopper) as machine code, plus
# compute_90 PTX that the driver compiles for newer GPUs.  pjreddie's Makefile said
# compute_30, which no current nvcc accepts.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90-real 90-virtual)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
message(STATUS "pydarknet: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures "
               "${CMAKE_CUDA_ARCHITECTURES}")

option(DARKNET_CUDA_WHEELS "Look for the CUDA libraries in NVIDIA's Python wheels first" ON)
string(REGEX MATCH "^[0-9]+" DARKNET_CUDA_MAJOR "${CMAKE_CUDA_COMPILER_VERSION}")

# The lib/ and include/ folders of NVIDIA's wheels visible to the building Python: the
# list of folders is pydarknet/_wheel_libs.py's (nvidia_lib_dirs).
set(_wheel_libdirs "")
set(_wheel_incdirs "")
set(DARKNET_CUDA_FROM_WHEELS OFF)
if(DARKNET_CUDA_WHEELS)
  foreach(_kind lib include)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/pydarknet/_wheel_libs.py" ${_kind}
      OUTPUT_VARIABLE _wheel_${_kind}dirs OUTPUT_STRIP_TRAILING_WHITESPACE)
  endforeach()
  set(_wheel_incdirs ${_wheel_includedirs})
endif()

set(CUDNN_ROOT "$ENV{CUDNN_ROOT}" CACHE PATH "A cuDNN installation (system builds)")
set(DARKNET_CUDA_LIBS "")
set(DARKNET_CUDA_RPATH "")
set(_wanted cudart cublas curand)
if(DARKNET_CUDNN)
  list(APPEND _wanted cudnn)
endif()
# The runtime and cuBLAS of nvcc's own major version (a cu13 wheel beside a CUDA 12
# toolkit is not used); cuRAND is .so.10 in both.
set(_versions_cudart ${DARKNET_CUDA_MAJOR})
set(_versions_cublas ${DARKNET_CUDA_MAJOR})
set(_versions_curand 10)
set(_versions_cudnn 9 8)
# The NVIDIA wheel that installs each (named in pydarknet's error when it is missing).
if(DARKNET_CUDA_MAJOR STREQUAL "13")
  set(_cu "")
else()
  set(_cu "-cu${DARKNET_CUDA_MAJOR}")
endif()
set(_dist_cudart "nvidia-cuda-runtime${_cu}")
set(_dist_cublas "nvidia-cublas${_cu}")
set(_dist_curand "nvidia-curand${_cu}")
set(_dist_cudnn "nvidia-cudnn-cu${DARKNET_CUDA_MAJOR}")
foreach(_name IN LISTS _wanted)
  set(_names "")
  foreach(_v IN LISTS _versions_${_name})
    list(APPEND _names "lib${_name}.so.${_v}")  # wheels ship no unversioned link
  endforeach()
  list(APPEND _names "${_name}")
  find_library(DARKNET_LIB_${_name} NAMES ${_names}
    HINTS ${_wheel_libdirs} ${CUDAToolkit_LIBRARY_DIR} "${CUDNN_ROOT}/lib64" "${CUDNN_ROOT}/lib"
    PATH_SUFFIXES lib64 lib)
  if(NOT DARKNET_LIB_${_name})
    message(FATAL_ERROR
      "pydarknet: lib${_name} not found.  Install NVIDIA's wheels into the building "
      "Python (pip install nvidia-cuda-runtime nvidia-cublas nvidia-curand "
      "nvidia-cudnn-cu13, then build with --no-build-isolation), or point "
      "CUDAToolkit_ROOT / CUDNN_ROOT at a CUDA toolkit and cuDNN.")
  endif()
  get_filename_component(_dir "${DARKNET_LIB_${_name}}" DIRECTORY)
  # Inside a wheel (site-packages/nvidia/<x>/lib): one of the other wheels' libraries
  # (cmake/WheelLibs.cmake: loaded by pydarknet, RPATH relative to site-packages).
  # Else (a toolkit): linked here, with the absolute folder as RPATH.
  if(_dir MATCHES "/nvidia/([^/]+)/lib$")
    pydn_wheel_library("${DARKNET_LIB_${_name}}" "nvidia/${CMAKE_MATCH_1}/lib"
                       "${_dist_${_name}}")
    set(DARKNET_CUDA_FROM_WHEELS ON)
  elseif(PYDARKNET_PRELOAD_DEPS)
    message(FATAL_ERROR "pydarknet: PYDARKNET_PRELOAD_DEPS needs NVIDIA's wheels, "
                        "not ${DARKNET_LIB_${_name}}")
  else()
    list(APPEND DARKNET_CUDA_LIBS "${DARKNET_LIB_${_name}}")
    list(APPEND DARKNET_CUDA_RPATH "${_dir}")
  endif()
  message(STATUS "pydarknet: ${_name}: ${DARKNET_LIB_${_name}}")
endforeach()
list(REMOVE_DUPLICATES DARKNET_CUDA_RPATH)
if(DARKNET_CUDA_FROM_WHEELS AND NOT PYDARKNET_DECLARES_CUDA_WHEELS)
  message(WARNING
    "pydarknet: this GPU build links NVIDIA's wheels, but its metadata does not depend "
    "on them (scikit-build-core adds them when CMAKE_ARGS or SKBUILD_CMAKE_DEFINE says "
    "DARKNET_GPU=ON, not for -C cmake.define...).  Install them too: "
    "pip install \".[cuda13]\" (or nvidia-cuda-runtime nvidia-cublas nvidia-curand "
    "nvidia-cudnn-cu13).")
endif()

# The toolkit's headers first, so that nvcc and its cuda_runtime.h agree; the wheels'
# folders add cublas_v2.h, curand.h and cudnn.h where the toolkit lacks them.
set(DARKNET_CUDA_INCLUDES ${CUDAToolkit_INCLUDE_DIRS} ${_wheel_incdirs})
if(CUDNN_ROOT)
  list(APPEND DARKNET_CUDA_INCLUDES "${CUDNN_ROOT}/include")
endif()
if(DARKNET_CUDNN)
  find_path(DARKNET_CUDNN_INCLUDE cudnn.h HINTS ${DARKNET_CUDA_INCLUDES})
  if(NOT DARKNET_CUDNN_INCLUDE)
    message(FATAL_ERROR "pydarknet: cudnn.h not found (nvidia-cudnn-cu13, or CUDNN_ROOT)")
  endif()
endif()

set(DARKNET_CUDA_UNITS
  convolutional_kernels deconvolutional_kernels activation_kernels im2col_kernels
  col2im_kernels blas_kernels crop_layer_kernels dropout_layer_kernels
  maxpool_layer_kernels avgpool_layer_kernels)
list(TRANSFORM DARKNET_CUDA_UNITS PREPEND "${DARKNET_DIR}/src/" OUTPUT_VARIABLE DARKNET_CUDA_SOURCES)
list(TRANSFORM DARKNET_CUDA_SOURCES APPEND ".cu")

# The runtime is linked as the shared libcudart found above (not CMake's default static
# one), so that it is the same library cuBLAS and cuDNN use.
set(CMAKE_CUDA_RUNTIME_LIBRARY None)
