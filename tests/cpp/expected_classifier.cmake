# What classifier.onnx must give on the test images, as defectkit_test_data computed it
# from their decoded pixels without the runtime (DATA_DIR/expected_classifier.txt, see
# make_test_data.cpp). Scores are checked with check_score (expected_patch.cmake).

# expected_classifier(NAME DEFECT_MICRO DEFECTIVE TOP_CLASS REGIONS): for image NAME
# (image_0.png), the defect probability in units of 1e-6, 1 if it reaches the defect
# threshold (else 0), the name of the most probable class, and the count of regions.
function(expected_classifier name defect_var defective_var class_var regions_var)
  file(STRINGS "${DATA_DIR}/expected_classifier.txt" lines REGEX "^${name} ")
  list(LENGTH lines n)
  if(NOT n EQUAL 1 OR NOT lines MATCHES "^[^ ]+ ([0-9]+) ([01]) ([0-2]) ([0-9]+)$")
    message(FATAL_ERROR "${DATA_DIR}/expected_classifier.txt: no single line for ${name}: ${lines}")
  endif()
  set(classes good defect unsure)
  list(GET classes ${CMAKE_MATCH_3} top)
  set(${defect_var} ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(${defective_var} ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(${class_var} ${top} PARENT_SCOPE)
  set(${regions_var} ${CMAKE_MATCH_4} PARENT_SCOPE)
endfunction()

set(CLASSIFIER_IMAGES image_0.png image_1.jpg image_2.tif)
