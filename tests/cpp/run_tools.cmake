# Runs defectkit-infer and defectkit-bench on the test artifacts and strips
# (TOOLS_DIR, DATA_DIR, WORK_DIR) and checks what they write.
file(REMOVE_RECURSE "${WORK_DIR}")
include("${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/expected_patch.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/expected_classifier.cmake")

run_checked(out "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/patch.onnx" "${DATA_DIR}/strip_0.tif" "${DATA_DIR}/strip_1.tif"
       --out "${WORK_DIR}/infer")
file(STRINGS "${WORK_DIR}/infer/results.csv" rows)
list(LENGTH rows n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "results.csv has ${n} lines, expected a header and 2 rows")
endif()
list(GET rows 0 header)
if(NOT header MATCHES "^path,score,is_defective,n_regions,")
  message(FATAL_ERROR "unexpected header: ${header}")
endif()
# Each row: the score, decision and region count computed without the runtime (expected_patch.cmake).
foreach(k 0 1)
  math(EXPR line "${k} + 1")
  list(GET rows ${line} row)
  if(NOT row MATCHES "/strip_${k}\\.tif,([0-9.]+),([01]),([0-9]+),")
    message(FATAL_ERROR "unexpected row ${line}: ${row}")
  endif()
  set(score "${CMAKE_MATCH_1}")
  set(defective "${CMAKE_MATCH_2}")
  set(regions "${CMAKE_MATCH_3}")
  expected_patch(strip_${k}.tif expected_score expected_defective expected_regions)
  check_score("${score}" ${expected_score} "results.csv, strip_${k}.tif")
  if(NOT defective EQUAL expected_defective OR NOT regions EQUAL expected_regions)
    message(FATAL_ERROR "results.csv, strip_${k}.tif: is_defective ${defective}, ${regions} regions; "
                        "expected ${expected_defective}, ${expected_regions}: ${row}")
  endif()
endforeach()
foreach(k 0 1)
  set(tif "${WORK_DIR}/infer/strip_${k}_heatmap.tif")
  file(SIZE "${tif}" size)
  if(size LESS 4292)  # 37 x 29 float32
    message(FATAL_ERROR "${tif} is ${size} bytes, too small for a 37 x 29 float32 heatmap")
  endif()
endforeach()

# Strips of one stem in two folders (an MVTec layout: good/000.tif, blob/000.tif) keep both heatmaps.
file(COPY "${DATA_DIR}/strip_0.tif" DESTINATION "${WORK_DIR}/other")
run_checked(out "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/patch.onnx" "${DATA_DIR}/strip_0.tif"
       "${WORK_DIR}/other/strip_0.tif" --out "${WORK_DIR}/same_stem")
foreach(tif strip_0_heatmap.tif other_strip_0_heatmap.tif)
  if(NOT EXISTS "${WORK_DIR}/same_stem/${tif}")
    message(FATAL_ERROR "two strips named strip_0.tif: ${tif} was not written")
  endif()
endforeach()

# A missing strip: non-zero exit, the error names it, the other strip still done.
execute_process(COMMAND "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/tiled.onnx" "${DATA_DIR}/strip_0.tif"
                        "${WORK_DIR}/missing.tif" --out "${WORK_DIR}/infer2"
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "missing.tif: no such file" OR NOT EXISTS "${WORK_DIR}/infer2/strip_0_heatmap.tif")
  message(FATAL_ERROR "a missing strip: rc ${rc}, stderr ${err}")
endif()

run_checked(json "${TOOLS_DIR}/defectkit-bench" "${DATA_DIR}/patch.onnx" --runs 5 --warmup 1 --json)
foreach(key p50_ms p99_ms strips_per_s peak_rss_mib "provider\": \"CPUExecutionProvider" onnxruntime)
  string(FIND "${json}" "${key}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "bench --json lacks ${key}: ${json}")
  endif()
endforeach()
run_checked(text "${TOOLS_DIR}/defectkit-bench" "${DATA_DIR}/tiled.onnx" "${DATA_DIR}/strip_1.tif" --runs 3)
if(NOT text MATCHES "latency ms: min [0-9.]+  p50")
  message(FATAL_ERROR "bench text output: ${text}")
endif()

# --verify: the SHA-256 recorded in export_report.json beside the artifact.
file(MAKE_DIRECTORY "${WORK_DIR}/verify")
file(COPY_FILE "${DATA_DIR}/tiled.onnx" "${WORK_DIR}/verify/model_fp32.onnx")
file(SHA256 "${WORK_DIR}/verify/model_fp32.onnx" digest)
file(WRITE "${WORK_DIR}/verify/export_report.json" "{\"files\": {\"model_fp32.onnx\": {\"sha256\": \"${digest}\"}}}")
run_checked(verified "${TOOLS_DIR}/defectkit-infer" "${WORK_DIR}/verify/model_fp32.onnx" "${DATA_DIR}/strip_0.tif"
            --out "${WORK_DIR}/verify" --verify)
run_checked(bench_verified "${TOOLS_DIR}/defectkit-bench" "${WORK_DIR}/verify/model_fp32.onnx" --runs 1 --warmup 0
            --sha256 "${digest}")
file(APPEND "${WORK_DIR}/verify/model_fp32.onnx" "x")  # one byte more: corrupted
foreach(tool defectkit-infer defectkit-bench)
  execute_process(COMMAND "${TOOLS_DIR}/${tool}" "${WORK_DIR}/verify/model_fp32.onnx" "${DATA_DIR}/strip_0.tif" --verify
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
  if(rc EQUAL 0 OR NOT err MATCHES "model_fp32.onnx: SHA-256 mismatch")
    message(FATAL_ERROR "${tool} --verify on a corrupted artifact: rc ${rc}, stderr ${err}")
  endif()
endforeach()

# --provider-option KEY=VALUE goes to the openvino provider only: on the CPU provider it is refused
# (exit 1, the runtime's message); without "=" it is a usage mistake (exit 2).
foreach(tool defectkit-infer defectkit-bench)
  foreach(case "device_type=CPU;1;openvino provider only" "reshape_input;2;needs KEY=VALUE")
    list(GET case 0 option)
    list(GET case 1 expected_rc)
    list(GET case 2 expected_err)
    execute_process(COMMAND "${TOOLS_DIR}/${tool}" "${DATA_DIR}/tiled.onnx" "${DATA_DIR}/strip_0.tif"
                            --provider-option "${option}" RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
    if(NOT rc EQUAL expected_rc OR NOT err MATCHES "${expected_err}")
      message(FATAL_ERROR "${tool} --provider-option ${option}: rc ${rc}, stderr ${err}")
    endif()
  endforeach()
endforeach()

# A guided_classifier artifact: the tools read its family and classify images (PNG, JPEG, TIFF).
set(images "")
foreach(image ${CLASSIFIER_IMAGES})
  list(APPEND images "${DATA_DIR}/${image}")
endforeach()
run_checked(out "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/classifier.onnx" ${images} --out "${WORK_DIR}/classify")
file(STRINGS "${WORK_DIR}/classify/results.csv" rows)
list(LENGTH rows n)
list(GET rows 0 header)
if(NOT n EQUAL 4 OR NOT header STREQUAL "path,defect_probability,is_defective,class,class_probability,n_regions,largest_region_area,max_peak,defect_threshold,pixel_threshold,mask,ms")
  message(FATAL_ERROR "classify results.csv: ${n} lines, header ${header}")
endif()
set(k 0)
foreach(image ${CLASSIFIER_IMAGES})
  math(EXPR k "${k} + 1")
  list(GET rows ${k} row)
  if(NOT row MATCHES "/${image},([0-9.]+),([01]),([a-z]+),[0-9.]+,([0-9]+),[0-9]+,[0-9.]+,0\\.310000,0\\.610000,([^,]+_mask\\.tif),")
    message(FATAL_ERROR "unexpected classify row ${k}: ${row}")
  endif()
  set(mask "${CMAKE_MATCH_5}")
  expected_classifier(${image} defect defective top regions)
  check_score("${CMAKE_MATCH_1}" ${defect} "results.csv, ${image}")
  if(NOT CMAKE_MATCH_2 EQUAL defective OR NOT CMAKE_MATCH_3 STREQUAL top OR NOT CMAKE_MATCH_4 EQUAL regions)
    message(FATAL_ERROR "results.csv, ${image}: ${row}; expected is_defective ${defective}, class ${top}, "
                        "${regions} regions")
  endif()
  file(SIZE "${mask}" size)
  if(size LESS 1584)  # the smallest image, 18 x 22, as float32
    message(FATAL_ERROR "${mask} is ${size} bytes, too small for a float32 mask")
  endif()
endforeach()
# Per-call thresholds; options of the other family are refused.
run_checked(out "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/classifier.onnx" "${DATA_DIR}/image_0.png"
            --defect-threshold 0 --out "${WORK_DIR}/classify_threshold")
file(STRINGS "${WORK_DIR}/classify_threshold/results.csv" rows)
list(GET rows 1 row)
if(NOT row MATCHES "image_0\\.png,[0-9.]+,1,[a-z]+,[0-9.]+,[0-9]+,[0-9]+,[0-9.]+,0\\.000000,")
  message(FATAL_ERROR "--defect-threshold 0 did not make image_0.png defective: ${row}")
endif()
execute_process(COMMAND "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/classifier.onnx" "${DATA_DIR}/image_0.png" --roi
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--roi does not apply to a guided_classifier artifact")
  message(FATAL_ERROR "--roi with a classifier: rc ${rc}, stderr ${err}")
endif()
# A strip is not an image this head reads: refused by name, the other images still done.
execute_process(COMMAND "${TOOLS_DIR}/defectkit-infer" "${DATA_DIR}/classifier.onnx" "${DATA_DIR}/strip_0.tif"
                        "${DATA_DIR}/image_1.jpg" --out "${WORK_DIR}/classify_strip"
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "strip_0.tif: unsupported TIFF sample format: float32"
   OR NOT EXISTS "${WORK_DIR}/classify_strip/image_1_mask.tif")
  message(FATAL_ERROR "a strip given to a classifier: rc ${rc}, stderr ${err}")
endif()

run_checked(json "${TOOLS_DIR}/defectkit-bench" "${DATA_DIR}/classifier.onnx" --runs 5 --warmup 1 --json)
foreach(key "family\": \"guided_classifier" "image\": \"random" "height\": 28" p50_ms p99_ms images_per_s
            peak_rss_mib "provider\": \"CPUExecutionProvider")
  string(FIND "${json}" "${key}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "bench --json on a classifier lacks ${key}: ${json}")
  endif()
endforeach()
run_checked(text "${TOOLS_DIR}/defectkit-bench" "${DATA_DIR}/classifier.onnx" "${DATA_DIR}/image_1.jpg" --runs 3)
if(NOT text MATCHES "image [^\n]*image_1.jpg \\(24 x 16\\)" OR NOT text MATCHES "latency ms: min [0-9.]+  p50"
   OR NOT text MATCHES "images/s")
  message(FATAL_ERROR "bench text output on an image: ${text}")
endif()
file(COPY_FILE "${DATA_DIR}/classifier.onnx" "${WORK_DIR}/verify/classifier.onnx")
file(SHA256 "${WORK_DIR}/verify/classifier.onnx" digest)
run_checked(verified "${TOOLS_DIR}/defectkit-infer" "${WORK_DIR}/verify/classifier.onnx" "${DATA_DIR}/image_0.png"
            --out "${WORK_DIR}/verify" --sha256 "${digest}")
file(APPEND "${WORK_DIR}/verify/classifier.onnx" "x")
execute_process(COMMAND "${TOOLS_DIR}/defectkit-bench" "${WORK_DIR}/verify/classifier.onnx" --sha256 "${digest}"
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "classifier.onnx: SHA-256 mismatch")
  message(FATAL_ERROR "bench --sha256 on a corrupted classifier: rc ${rc}, stderr ${err}")
endif()
