# Runs defectkit-infer and defectkit-bench on the test artifacts and strips
# (TOOLS_DIR, DATA_DIR, WORK_DIR) and checks what they write.
file(REMOVE_RECURSE "${WORK_DIR}")
include("${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/expected_patch.cmake")

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
