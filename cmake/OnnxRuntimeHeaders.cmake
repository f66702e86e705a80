# Where ONNX Runtime's C/C++ headers and library come from.
#
# Headers: ONNXRUNTIME_ROOT (the layout of ONNX Runtime's release archives:
# include/, lib/) when given; otherwise Debian 13's libonnxruntime-dev,
# fetched (not installed) by scripts/fetch_onnxruntime_headers.sh into
# DEFECTKIT_DEPS_DIR. The onnxruntime wheel ships no headers, and Debian 12
# has no package for them; the C API is forward compatible, so 1.21 headers
# drive the wheel's newer library (see DESIGN.md, "Environment facts").
#
# Library: never linked. The runtime dlopen()s it; the default path baked in
# here is the installed onnxruntime wheel's, found with the Python that
# builds us. Override at run time with DEFECTKIT_ORT_LIBRARY or an option.

set(ONNXRUNTIME_ROOT "$ENV{ONNXRUNTIME_ROOT}" CACHE PATH "ONNX Runtime release archive (include/, lib/)")
set(DEFECTKIT_DEPS_DIR "${CMAKE_CURRENT_SOURCE_DIR}/.deps" CACHE PATH "Where fetched build dependencies live")

set(_ort_include "")
if(ONNXRUNTIME_ROOT)
  if(EXISTS "${ONNXRUNTIME_ROOT}/include/onnxruntime_cxx_api.h")
    set(_ort_include "${ONNXRUNTIME_ROOT}/include")
  elseif(EXISTS "${ONNXRUNTIME_ROOT}/include/onnxruntime/onnxruntime_cxx_api.h")
    set(_ort_include "${ONNXRUNTIME_ROOT}/include/onnxruntime")
  else()
    message(FATAL_ERROR "ONNXRUNTIME_ROOT=${ONNXRUNTIME_ROOT} has no include/onnxruntime_cxx_api.h")
  endif()
else()
  set(_ort_include "${DEFECTKIT_DEPS_DIR}/onnxruntime/include")
  if(NOT EXISTS "${_ort_include}/onnxruntime_cxx_api.h")
    message(STATUS "Fetching ONNX Runtime headers (Debian 13 libonnxruntime-dev) into ${DEFECTKIT_DEPS_DIR}")
    execute_process(
      COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch_onnxruntime_headers.sh" "${DEFECTKIT_DEPS_DIR}"
      RESULT_VARIABLE _fetch_rc)
    if(NOT _fetch_rc EQUAL 0 OR NOT EXISTS "${_ort_include}/onnxruntime_cxx_api.h")
      message(FATAL_ERROR "Could not fetch ONNX Runtime headers; set ONNXRUNTIME_ROOT to an ONNX Runtime release folder")
    endif()
  endif()
endif()
message(STATUS "ONNX Runtime headers: ${_ort_include}")

set(DEFECTKIT_ORT_INCLUDE_DIR "${_ort_include}")

# Default library path: ONNXRUNTIME_ROOT/lib, else the onnxruntime wheel.
set(_ort_default "")
if(ONNXRUNTIME_ROOT)
  file(GLOB _ort_libs "${ONNXRUNTIME_ROOT}/lib/libonnxruntime.so*")
  if(_ort_libs)
    list(GET _ort_libs 0 _ort_default)
  endif()
else()
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/python/defectkit/_ortpath.py"
      OUTPUT_VARIABLE _ort_default OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
endif()
set(DEFECTKIT_ORT_LIBRARY_DEFAULT "${_ort_default}" CACHE FILEPATH
    "ONNX Runtime shared library the runtime opens when nothing else is asked for")
message(STATUS "ONNX Runtime library default: ${DEFECTKIT_ORT_LIBRARY_DEFAULT}")
