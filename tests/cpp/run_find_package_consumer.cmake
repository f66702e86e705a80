# Installs the build tree into a private prefix, then configures, builds and
# runs a program that only knows `find_package(defectkit)`. The prefix also
# holds onnxruntime/capi/, as site-packages does beside the wheel's package:
# with DEFECTKIT_ORT_LIBRARY unset the program opens that library by itself
# (cmake/defectkitConfig.cmake.in); the variable, when set, still wins.
file(REMOVE_RECURSE "${WORK_DIR}")
include("${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/packaged_onnxruntime.cmake")
run_checked(ignored "${CMAKE_COMMAND}" --install "${DEFECTKIT_BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
packaged_onnxruntime("${WORK_DIR}/prefix" "${ORT_LIBRARY}" packaged)
run_checked(ignored "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run_checked(ignored "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_checked(out "${CMAKE_COMMAND}" -E env --unset=DEFECTKIT_ORT_LIBRARY "${WORK_DIR}/build/consumer")
expect_onnxruntime_from("${out}" "package" "${packaged}" "consumer without DEFECTKIT_ORT_LIBRARY")
get_filename_component(real "${ORT_LIBRARY}" REALPATH)
run_checked(out "${CMAKE_COMMAND}" -E env "DEFECTKIT_ORT_LIBRARY=${real}" "${WORK_DIR}/build/consumer")
expect_onnxruntime_from("${out}" "environment" "${real}" "consumer with DEFECTKIT_ORT_LIBRARY")
# Passed: the private install (a full copy of the library and tools, some 200 MB in the
# sanitizer build) goes; a failing run stops above and keeps it to look at.
file(REMOVE_RECURSE "${WORK_DIR}")
