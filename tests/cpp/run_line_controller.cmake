# Installs the build tree into a private prefix, builds the line-controller
# example against it (find_package only), and runs it on the test strips,
# from a list and by watching the folder once.
file(REMOVE_RECURSE "${WORK_DIR}")
include("${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake")
run_checked(ignored "${CMAKE_COMMAND}" --install "${DEFECTKIT_BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
run_checked(ignored "${CMAKE_COMMAND}" -S "${EXAMPLE_SOURCE_DIR}" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run_checked(ignored "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_checked(listed "${WORK_DIR}/build/line_controller" "${DATA_DIR}/patch.onnx" --list "${DATA_DIR}/strips.txt")
string(REGEX MATCHALL "REJECT score=0\\.7[0-9]+ regions=[1-9]" decisions "${listed}")
list(LENGTH decisions n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "expected 2 REJECT lines from the list, got:\n${listed}")
endif()
run_checked(watched "${WORK_DIR}/build/line_controller" "${DATA_DIR}/tiled.onnx" --watch "${DATA_DIR}" --once)
if(NOT watched MATCHES "strip_0.tif" OR NOT watched MATCHES "strip_1.tif")
  message(FATAL_ERROR "watching the folder missed a strip:\n${watched}")
endif()
