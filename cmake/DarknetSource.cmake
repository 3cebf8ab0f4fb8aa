# Locate the pinned Darknet source tree and set DARKNET_DIR.
#
# Order: -DDARKNET_SOURCE_DIR / $PYDARKNET_DARKNET_SRC, the darknet/ submodule (also
# inside an sdist), `git submodule update --init`, and finally Debian's source package
# of the same commit fetched by tools/fetch_darknet_source.py into a cache folder.

set(_marker "src/network.c")
set(DARKNET_SOURCE_DIR "$ENV{PYDARKNET_DARKNET_SRC}" CACHE PATH "Darknet source tree to build")

function(_darknet_ok dir result)
  if(dir AND EXISTS "${dir}/${_marker}" AND EXISTS "${dir}/include/darknet.h")
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
endfunction()

_darknet_ok("${DARKNET_SOURCE_DIR}" _ok)
if(NOT _ok)
  set(DARKNET_SOURCE_DIR "${PROJECT_SOURCE_DIR}/darknet")
  _darknet_ok("${DARKNET_SOURCE_DIR}" _ok)
endif()

if(NOT _ok AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  find_package(Git QUIET)
  if(GIT_FOUND)
    message(STATUS "pydarknet: trying `git submodule update --init darknet`")
    execute_process(
      COMMAND "${GIT_EXECUTABLE}" submodule update --init darknet
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET
      TIMEOUT 60)
    _darknet_ok("${DARKNET_SOURCE_DIR}" _ok)
  endif()
endif()

if(NOT _ok)
  if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
    set(_cache "$ENV{XDG_CACHE_HOME}/pydarknet")
  else()
    set(_cache "$ENV{HOME}/.cache/pydarknet")
  endif()
  set(DARKNET_SOURCE_DIR "${_cache}/darknet-src-61c9d02e")
  _darknet_ok("${DARKNET_SOURCE_DIR}" _ok)
  if(NOT _ok)
    message(STATUS "pydarknet: fetching Darknet 61c9d02e from Debian's source package")
    execute_process(
      COMMAND "${Python_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/tools/fetch_darknet_source.py"
              "${DARKNET_SOURCE_DIR}"
      RESULT_VARIABLE _rc ERROR_VARIABLE _err)
    _darknet_ok("${DARKNET_SOURCE_DIR}" _ok)
    if(NOT _ok)
      message(FATAL_ERROR "${_err}")
    endif()
  endif()
endif()

set(DARKNET_DIR "${DARKNET_SOURCE_DIR}")
message(STATUS "pydarknet: Darknet source: ${DARKNET_DIR}")
