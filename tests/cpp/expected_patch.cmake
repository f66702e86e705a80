# What patch.onnx must give on the test strips, as defectkit_test_data computed it
# without the runtime (DATA_DIR/expected_patch.txt, see make_test_data.cpp), and a
# check of what a program printed against it.

# expected_patch(NAME SCORE_MICRO DEFECTIVE REGIONS): for strip NAME (strip_0.tif), the
# score in units of 1e-6, 1 if it reaches the image threshold (else 0), and the count of regions.
function(expected_patch name score_var defective_var regions_var)
  file(STRINGS "${DATA_DIR}/expected_patch.txt" lines REGEX "^${name} ")
  list(LENGTH lines n)
  if(NOT n EQUAL 1 OR NOT lines MATCHES "^[^ ]+ ([0-9]+) ([01]) ([0-9]+)$")
    message(FATAL_ERROR "${DATA_DIR}/expected_patch.txt: no single line for ${name}: ${lines}")
  endif()
  set(${score_var} ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(${defective_var} ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(${regions_var} ${CMAKE_MATCH_3} PARENT_SCOPE)
endfunction()

# check_score(PRINTED SCORE_MICRO WHAT): PRINTED, a score as a program printed it with 1 to 6
# decimals, must be SCORE_MICRO / 1e6 to within half a unit of its last decimal (its rounding)
# plus 2e-6 (the runtime computes in float32, the expectation in double).
function(check_score printed expected what)
  if(NOT printed MATCHES "^([0-9]+)\\.([0-9]+)$")
    message(FATAL_ERROR "${what}: score '${printed}' is not a decimal number")
  endif()
  set(whole "${CMAKE_MATCH_1}")
  set(fraction "${CMAKE_MATCH_2}")
  string(LENGTH "${fraction}" digits)
  if(digits GREATER 6)
    message(FATAL_ERROR "${what}: score '${printed}' has more than 6 decimals")
  endif()
  set(unit 1)  # 1e-6 units in the last printed decimal
  while(digits LESS 6)
    string(APPEND fraction "0")
    math(EXPR unit "${unit} * 10")
    math(EXPR digits "${digits} + 1")
  endwhile()
  math(EXPR value "${whole} * 1000000 + ${fraction}")
  math(EXPR difference "${value} - ${expected}")
  if(difference LESS 0)
    math(EXPR difference "0 - ${difference}")
  endif()
  math(EXPR tolerance "${unit} / 2 + 2")
  if(difference GREATER tolerance)
    message(FATAL_ERROR "${what}: printed score ${printed}, expected ${expected}e-6 (within ${tolerance}e-6)")
  endif()
endfunction()
