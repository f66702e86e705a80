/* The C API from C: test_c_api DIR, DIR written by defectkit_test_data.
 * Prints 'N passed, N failed' and exits non-zero on any failure. */
#include <defectkit/defectkit_c.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                                                             \
  do {                                                                                                          \
    if (cond) {                                                                                                 \
      ++passed;                                                                                                 \
    } else {                                                                                                    \
      ++failed;                                                                                                 \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, dk_last_error()); \
    }                                                                                                           \
  } while (0)

/* The values defectkit_test_data wrote into strip_0.tif, channel-first. */
static float strip_value(int c, int y, int x) {
  if (c == 3) return (y / 5 + x / 4) % 3 == 0 ? 0.0f : 1.0f;
  return (float)((c * 50 + y * 13 + x * 29) % 256);
}

int main(int argc, char** argv) {
  char artifact[4096], strip[4096], missing[4096];
  const int C = 4, H = 37, W = 29;
  dk_inspector* inspector = NULL;
  dk_inspection* from_file = NULL;
  dk_inspection* from_buffer = NULL;
  dk_inspection* result = NULL;
  dk_artifact_info info;
  dk_inspect_options options;
  float* chw;
  unsigned char* hwc8;
  int c, y, x, i, same = 1;

  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  snprintf(artifact, sizeof artifact, "%s/patch.onnx", argv[1]);
  snprintf(strip, sizeof strip, "%s/strip_0.tif", argv[1]);
  snprintf(missing, sizeof missing, "%s/no_such.onnx", argv[1]);

  /* A missing artifact: a code, a message naming it, no handle. */
  inspector = (dk_inspector*)1;
  CHECK(dk_inspector_create(missing, NULL, &inspector) == DK_FILE_NOT_FOUND);
  CHECK(inspector == NULL);
  CHECK(strstr(dk_last_error(), missing) != NULL);
  CHECK(strcmp(dk_status_name(DK_FILE_NOT_FOUND), "file_not_found") == 0);
  CHECK(dk_inspector_create(NULL, NULL, &inspector) == DK_INVALID_ARGUMENT);

  CHECK(dk_inspector_create(artifact, NULL, &inspector) == DK_OK);
  CHECK(strcmp(dk_last_error(), "") == 0);
  if (inspector == NULL) {
    fprintf(stderr, "cannot go on without an inspector\n");
    return 1;
  }
  CHECK(dk_inspector_info(inspector, &info) == DK_OK);
  CHECK(info.graph == DK_GRAPH_PATCH);
  CHECK(info.patch == 16);
  CHECK(fabsf(info.image_threshold - 0.4f) < 1e-6f);

  /* The file and the same strip in memory (float32 CHW, then uint8 HWC) give the same heatmap. */
  CHECK(dk_inspect_file(inspector, strip, NULL, &from_file) == DK_OK);
  chw = malloc(sizeof(float) * C * H * W);
  hwc8 = malloc((size_t)C * H * W);
  for (c = 0; c < C; ++c)
    for (y = 0; y < H; ++y)
      for (x = 0; x < W; ++x) {
        chw[(c * H + y) * W + x] = strip_value(c, y, x);
        hwc8[(y * W + x) * C + c] = (unsigned char)strip_value(c, y, x);
      }
  CHECK(dk_inspect_buffer(inspector, chw, sizeof(float) * C * H * W, DK_FLOAT32, DK_CHW, C, H, W, NULL, &from_buffer) ==
        DK_OK);
  if (from_file && from_buffer) {
    CHECK(from_file->height == H && from_file->width == W);
    for (i = 0; i < H * W; ++i) same = same && from_file->heatmap[i] == from_buffer->heatmap[i];
    CHECK(same);
    CHECK(from_file->score == from_buffer->score);
    CHECK(from_file->is_defective == (from_file->score >= from_file->image_threshold));
  }
  dk_inspection_free(from_buffer);
  from_buffer = NULL;
  CHECK(dk_inspect_buffer(inspector, hwc8, (size_t)C * H * W, DK_UINT8, DK_HWC, C, H, W, NULL, &from_buffer) == DK_OK);
  if (from_file && from_buffer) CHECK(memcmp(from_file->heatmap, from_buffer->heatmap, sizeof(float) * H * W) == 0);

  /* Overridden thresholds: nothing defective at 2.0; one region of every pixel at 0. */
  dk_inspect_options_init(&options);
  options.image_threshold = 2.0f;
  options.pixel_threshold = 0.0f;
  CHECK(dk_inspect_file(inspector, strip, &options, &result) == DK_OK);
  if (result) {
    CHECK(result->is_defective == 0);
    CHECK(result->region_count == 1);
    CHECK(result->regions[0].area == H * W);
  }
  dk_inspection_free(result);
  result = NULL;

  /* ROI: zero where channel 3 is 0. */
  dk_inspect_options_init(&options);
  options.roi = 1;
  CHECK(dk_inspect_file(inspector, strip, &options, &result) == DK_OK);
  if (result) CHECK(result->heatmap[0] == 0.0f && result->heatmap[5 * W] != 0.0f);
  dk_inspection_free(result);
  result = NULL;

  /* Bad inputs: codes and messages, never a crash. */
  CHECK(dk_inspect_buffer(inspector, chw, sizeof(float) * C * H * W - 1, DK_FLOAT32, DK_CHW, C, H, W, NULL, &result) ==
        DK_INVALID_ARGUMENT);
  CHECK(result == NULL);
  CHECK(strstr(dk_last_error(), "bytes but its shape") != NULL);
  CHECK(dk_inspect_buffer(inspector, chw, sizeof(float) * C * H * W, DK_FLOAT32, DK_CHW, 2, H, W, NULL, &result) ==
        DK_INVALID_ARGUMENT);
  CHECK(dk_inspect_buffer(inspector, chw, sizeof(float) * C * H * W, (dk_dtype)7, DK_CHW, C, H, W, NULL, &result) ==
        DK_INVALID_ARGUMENT);
  CHECK(dk_inspect_buffer(inspector, NULL, 0, DK_FLOAT32, DK_CHW, C, H, W, NULL, &result) == DK_INVALID_ARGUMENT);
  CHECK(dk_inspect_file(inspector, missing, NULL, &result) == DK_FILE_NOT_FOUND);
  CHECK(dk_inspect_file(inspector, artifact, NULL, &result) == DK_BAD_FILE); /* an ONNX file is not a TIFF */
  CHECK(dk_inspect_file(NULL, strip, NULL, &result) == DK_INVALID_ARGUMENT);

  /* The same artifact as a plain model: its patch graph on the top-left tile gives the
   * inspector's heatmap there (that tile owns pixel (0, 0)). */
  {
    dk_model* model = NULL;
    dk_tensor input, *outputs = NULL;
    int64_t shape[4] = {1, 3, 16, 16}, bad_shape[4] = {1, 3, 15, 16};
    float* tile = malloc(sizeof(float) * 3 * 16 * 16);
    CHECK(dk_model_create(missing, NULL, &model) == DK_FILE_NOT_FOUND && model == NULL);
    CHECK(dk_model_create(artifact, NULL, &model) == DK_OK);
    if (model != NULL) {
      CHECK(dk_model_input_count(model) == 1 && dk_model_output_count(model) == 1);
      CHECK(strcmp(dk_model_output_name(model, 0), "heatmap") == 0);
      CHECK(dk_model_input_name(model, 1) == NULL);
      CHECK(strcmp(dk_model_metadata(model, "defectkit.graph"), "patch") == 0);
      CHECK(dk_model_metadata(model, "no.such.key") == NULL);
      for (c = 0; c < 3; ++c)
        for (y = 0; y < 16; ++y)
          for (x = 0; x < 16; ++x) tile[(c * 16 + y) * 16 + x] = strip_value(c, y, x);
      input.data = tile;
      input.shape = shape;
      input.rank = 4;
      input.size = 3 * 16 * 16;
      CHECK(dk_model_run(model, &input, 1, &outputs) == DK_OK);
      if (outputs != NULL) {
        CHECK(outputs[0].rank == 4 && outputs[0].shape[1] == 1 && outputs[0].size == 16 * 16);
        if (from_file) CHECK(outputs[0].data[0] == from_file->heatmap[0]);
      }
      dk_tensors_free(outputs, dk_model_output_count(model));
      outputs = NULL;
      input.shape = bad_shape;
      CHECK(dk_model_run(model, &input, 1, &outputs) == DK_INVALID_ARGUMENT && outputs == NULL);
      CHECK(dk_model_run(model, &input, 0, &outputs) == DK_INVALID_ARGUMENT);
    }
    dk_model_free(model);
    free(tile);
  }

  dk_inspection_free(from_file);
  dk_inspection_free(from_buffer);
  dk_inspector_free(inspector);
  free(chw);
  free(hwc8);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
