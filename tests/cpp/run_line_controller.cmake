# Installs the build tree into a private prefix laid out as site-packages
# (the package beside onnxruntime/capi/), builds the line-controller example
# against it (find_package only), and runs it on the test strips without
# DEFECTKIT_ORT_LIBRARY, from a list and by watching the folder once.
file(REMOVE_RECURSE "${WORK_DIR}")
include("${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/expected_patch.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/packaged_onnxruntime.cmake")
run_checked(ignored "${CMAKE_COMMAND}" --install "${DEFECTKIT_BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
packaged_onnxruntime("${WORK_DIR}/prefix" "${ORT_LIBRARY}" packaged)
run_checked(ignored "${CMAKE_COMMAND}" -S "${EXAMPLE_SOURCE_DIR}" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run_checked(ignored "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_checked(listed "${CMAKE_COMMAND}" -E env --unset=DEFECTKIT_ORT_LIBRARY
  "${WORK_DIR}/build/line_controller" "${DATA_DIR}/patch.onnx" --list "${DATA_DIR}/strips.txt")
expect_onnxruntime_from("${listed}" "package" "${packaged}" "line_controller")
# A decision line per listed strip, in order, with the score, decision and region count
# computed without the runtime (expected_patch.cmake).
string(REGEX MATCHALL "(PASS|REJECT) score=[0-9.]+ regions=[0-9]+ ms=[0-9.]+ [^\n]*" decisions "${listed}")
list(LENGTH decisions n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "expected 2 decision lines from the list, got:\n${listed}")
endif()
foreach(k 0 1)
  list(GET decisions ${k} decision)
  if(NOT decision MATCHES "^(PASS|REJECT) score=([0-9.]+) regions=([0-9]+) ms=[0-9.]+ .*/strip_${k}\\.tif$")
    message(FATAL_ERROR "line ${k} is not strip_${k}.tif's decision: ${decision}")
  endif()
  set(verdict "${CMAKE_MATCH_1}")
  set(score "${CMAKE_MATCH_2}")
  set(regions "${CMAKE_MATCH_3}")
  expected_patch(strip_${k}.tif expected_score expected_defective expected_regions)
  check_score("${score}" ${expected_score} "line_controller, strip_${k}.tif")
  if(expected_defective)
    set(expected_verdict REJECT)
  else()
    set(expected_verdict PASS)
  endif()
  if(NOT verdict STREQUAL expected_verdict OR NOT regions EQUAL expected_regions)
    message(FATAL_ERROR "line_controller, strip_${k}.tif: ${decision}; expected ${expected_verdict}, "
                        "${expected_regions} regions")
  endif()
endforeach()
run_checked(watched "${CMAKE_COMMAND}" -E env --unset=DEFECTKIT_ORT_LIBRARY
  "${WORK_DIR}/build/line_controller" "${DATA_DIR}/tiled.onnx" --watch "${DATA_DIR}" --once)
if(NOT watched MATCHES "strip_0.tif" OR NOT watched MATCHES "strip_1.tif")
  message(FATAL_ERROR "watching the folder missed a strip:\n${watched}")
endif()
