# packaged_onnxruntime(PREFIX ORT_LIBRARY OUT_VAR): lays out PREFIX as a wheel
# would have it beside the installed package, PREFIX/onnxruntime/capi holding
# the library (a hard link to ORT_LIBRARY, so its real path stays in that
# folder), and stores that path in OUT_VAR.
function(packaged_onnxruntime prefix ort_library out_var)
  if(NOT EXISTS "${ort_library}")
    message(FATAL_ERROR "no ONNX Runtime library at '${ort_library}' to lay out as a wheel's")
  endif()
  get_filename_component(real "${ort_library}" REALPATH)
  get_filename_component(name "${real}" NAME)
  file(MAKE_DIRECTORY "${prefix}/onnxruntime/capi")
  file(CREATE_LINK "${real}" "${prefix}/onnxruntime/capi/${name}" COPY_ON_ERROR)
  set(${out_var} "${prefix}/onnxruntime/capi/${name}" PARENT_SCOPE)
endfunction()

# expect_onnxruntime_from(OUTPUT SOURCE PATH WHAT): OUTPUT must hold the line
# "ONNX Runtime <version> from PATH (SOURCE)" the programs print.
function(expect_onnxruntime_from output source path what)
  string(FIND "${output}" " from ${path} (${source})" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected ONNX Runtime from ${path} (${source}), got:\n${output}")
  endif()
endfunction()
