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

/* Any artifact through dk_session: session.onnx (two typed inputs, two typed outputs), the
 * format-1 patch.onnx, and the strip head refusing another family. */
static void test_session(const char* dir) {
  char path[4096], v1[4096], missing[4096];
  dk_session* session = NULL;
  dk_inspector* inspector = NULL;
  dk_tensor_spec spec;
  dk_named_tensor inputs[2], *outputs = NULL;
  size_t output_count = 99;
  float threshold = 0.0f, series[2 * 8];
  unsigned char image[2 * 2 * 3 * 3];
  const int64_t image_shape[4] = {2, 2, 3, 3}, series_shape[2] = {2, 8};
  int n, i;

  snprintf(path, sizeof path, "%s/session.onnx", dir);
  snprintf(v1, sizeof v1, "%s/patch.onnx", dir);
  snprintf(missing, sizeof missing, "%s/no_such.onnx", dir);
  session = (dk_session*)1;
  CHECK(dk_session_create(missing, NULL, &session) == DK_FILE_NOT_FOUND && session == NULL);
  CHECK(dk_session_create(path, NULL, &session) == DK_OK);
  if (session == NULL) return;

  /* The metadata, typed. */
  CHECK(dk_session_format_version(session) == 2);
  CHECK(strcmp(dk_session_family(session), "test_fusion") == 0);
  CHECK(strcmp(dk_session_precision(session), "fp32") == 0);
  CHECK(strstr(dk_session_family_section(session), "\"bank_size\": 4") != NULL);
  CHECK(strstr(dk_session_provenance(session), "defectkit_version") != NULL);
  CHECK(dk_session_input_count(session) == 2 && dk_session_output_count(session) == 2);
  CHECK(dk_session_input(session, 0, &spec) == DK_OK);
  CHECK(strcmp(spec.name, "image") == 0 && spec.dtype == DK_ELEMENT_UINT8 && spec.rank == 4);
  CHECK(spec.shape[0] == -1 && spec.shape[2] == -1 && spec.shape[3] == 3);
  CHECK(strcmp(spec.symbols[0], "batch") == 0 && strcmp(spec.symbols[2], "width") == 0 && spec.symbols[3][0] == 0);
  CHECK(strcmp(spec.layout, "NHWC") == 0 && spec.scale == 255.0f && strcmp(spec.meaning, "camera image") == 0);
  CHECK(dk_session_input(session, 1, &spec) == DK_OK);
  CHECK(spec.dtype == DK_ELEMENT_FLOAT32 && isnan(spec.scale) && spec.shape[1] == 8);
  CHECK(dk_session_output(session, 1, &spec) == DK_OK);
  CHECK(strcmp(spec.name, "peak") == 0 && spec.dtype == DK_ELEMENT_INT64 && spec.rank == 1);
  CHECK(dk_session_input(session, 2, &spec) == DK_INVALID_ARGUMENT);
  CHECK(dk_session_threshold_count(session) == 1);
  CHECK(strcmp(dk_session_threshold_name(session, 0), "score") == 0 && dk_session_threshold_name(session, 1) == NULL);
  CHECK(dk_session_threshold(session, "score", &threshold) == DK_OK && threshold == 0.5f);
  CHECK(dk_session_threshold(session, "pixel", &threshold) == DK_INVALID_ARGUMENT);
  CHECK(strstr(dk_last_error(), "no threshold 'pixel' (the artifact has: score)") != NULL);

  /* A run, inputs in any order; outputs in the artifact's order, typed. */
  for (i = 0; i < (int)sizeof image; ++i) image[i] = (unsigned char)(i * 7 % 256);
  for (i = 0; i < 16; ++i) series[i] = (float)((i * 5) % 11) - 3.0f;
  inputs[0].name = "series";
  inputs[0].dtype = DK_ELEMENT_FLOAT32;
  inputs[0].data = series;
  inputs[0].shape = series_shape;
  inputs[0].rank = 2;
  inputs[0].bytes = sizeof series;
  inputs[1].name = "image";
  inputs[1].dtype = DK_ELEMENT_UINT8;
  inputs[1].data = image;
  inputs[1].shape = image_shape;
  inputs[1].rank = 4;
  inputs[1].bytes = sizeof image;
  CHECK(dk_session_run(session, inputs, 2, &outputs, &output_count) == DK_OK);
  if (outputs != NULL) {
    CHECK(output_count == 2);
    CHECK(strcmp(outputs[0].name, "score") == 0 && outputs[0].dtype == DK_ELEMENT_FLOAT32);
    CHECK(strcmp(outputs[1].name, "peak") == 0 && outputs[1].dtype == DK_ELEMENT_INT64);
    CHECK(outputs[1].rank == 1 && outputs[1].shape[0] == 2 && outputs[1].bytes == 2 * sizeof(int64_t));
    for (n = 0; n < 2; ++n) {
      double mean = 0.0;
      int best = 0;
      for (i = 0; i < 18; ++i) mean += image[n * 18 + i] / 18.0;
      for (i = 1; i < 8; ++i)
        if (series[n * 8 + i] > series[n * 8 + best]) best = i;
      CHECK(fabs(((const float*)outputs[0].data)[n] - (mean / 255.0 + series[n * 8 + best])) < 1e-5);
      CHECK(((const int64_t*)outputs[1].data)[n] == best);
    }
  }
  dk_named_tensors_free(outputs, output_count);
  outputs = NULL;

  /* Wrong inputs: a code naming the input, no outputs. */
  CHECK(dk_session_run(session, inputs, 1, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  CHECK(outputs == NULL && output_count == 0);
  CHECK(strstr(dk_last_error(), "input 'image' is missing") != NULL);
  inputs[1].dtype = DK_ELEMENT_FLOAT32;
  CHECK(dk_session_run(session, inputs, 2, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  CHECK(strstr(dk_last_error(), "input 'image' is float32 but the artifact takes uint8") != NULL);
  inputs[1].dtype = (dk_element_type)42;
  CHECK(dk_session_run(session, inputs, 2, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  inputs[1].dtype = DK_ELEMENT_UINT8;
  inputs[1].bytes = sizeof image - 1;
  CHECK(dk_session_run(session, inputs, 2, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  CHECK(strstr(dk_last_error(), "input 'image' holds 35 bytes but its shape (2, 2, 3, 3) needs 36") != NULL);
  inputs[1].bytes = sizeof image;
  inputs[1].name = "series";
  CHECK(dk_session_run(session, inputs, 2, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  CHECK(strstr(dk_last_error(), "input 'series' is given twice") != NULL);
  CHECK(dk_session_run(NULL, inputs, 2, &outputs, &output_count) == DK_INVALID_ARGUMENT);
  dk_session_free(session);
  session = NULL;

  /* The strip head runs reference_unet only. */
  CHECK(dk_inspector_create(path, NULL, &inspector) == DK_MODEL && inspector == NULL);
  CHECK(strstr(dk_last_error(), "a test_fusion artifact; defectkit::Inspector runs reference_unet artifacts") != NULL);

  /* A format-1 artifact through the generic session: the specs come from the graph. */
  CHECK(dk_session_create(v1, NULL, &session) == DK_OK);
  if (session != NULL) {
    CHECK(dk_session_format_version(session) == 1);
    CHECK(dk_session_input(session, 0, &spec) == DK_OK);
    CHECK(strcmp(spec.name, "patch") == 0 && spec.rank == 4 && spec.shape[0] == -1 && spec.shape[1] == 3);
    CHECK(spec.scale == 255.0f && strcmp(spec.layout, "NCHW") == 0);
    CHECK(dk_session_threshold(session, "pixel", &threshold) == DK_OK && fabsf(threshold - 0.61f) < 1e-6f);
    CHECK(strstr(dk_session_family_section(session), "\"graph\":\"patch\"") != NULL);
  }
  dk_session_free(session);
}

/* The values defectkit_test_data wrote into image_0.png (RGB, 20 x 30). */
static int image_value(int c, int y, int x) {
  const int blob = y >= 3 && y < 8 && x >= 4 && x < 12;
  return blob ? 200 + 20 * c : (c * 30 + y * 3 + x * 2) % 120;
}

static int same_floats(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* The image classifier: classifier.onnx on image_0.png, from the file, its bytes and its pixels. */
static void test_classifier(const char* dir) {
  char path[4096], png[4096], strip_artifact[4096], missing[4096];
  const int H = 20, W = 30;
  dk_classifier* classifier = NULL;
  dk_inspector* inspector = NULL;
  dk_classifier_artifact_info info;
  dk_classify_options options;
  dk_classification *from_file = NULL, *other = NULL;
  unsigned char *rgb, *rgba, *encoded;
  uint16_t* wide;
  long encoded_size;
  FILE* file;
  int c, y, x;

  snprintf(path, sizeof path, "%s/classifier.onnx", dir);
  snprintf(png, sizeof png, "%s/image_0.png", dir);
  snprintf(strip_artifact, sizeof strip_artifact, "%s/patch.onnx", dir);
  snprintf(missing, sizeof missing, "%s/no_such.png", dir);

  /* Each head refuses the other's family. */
  classifier = (dk_classifier*)1;
  CHECK(dk_classifier_create(strip_artifact, NULL, &classifier) == DK_MODEL && classifier == NULL);
  CHECK(strstr(dk_last_error(), "a reference_unet artifact; defectkit::ImageClassifier runs guided_classifier") !=
        NULL);
  CHECK(dk_inspector_create(path, NULL, &inspector) == DK_MODEL && inspector == NULL);
  CHECK(strstr(dk_last_error(), "a guided_classifier artifact; defectkit::Inspector runs reference_unet") != NULL);

  CHECK(dk_classifier_create(path, NULL, &classifier) == DK_OK);
  if (classifier == NULL) return;
  CHECK(dk_classifier_info(classifier, &info) == DK_OK);
  CHECK(info.class_count == 3 && strcmp(info.classes[1], "defect") == 0 && info.defect_class == 1);
  CHECK(info.channels == 0 && info.input_height == 28 && info.input_width == 28);
  CHECK(fabsf(info.defect_threshold - 0.31f) < 1e-6f && fabsf(info.pixel_threshold - 0.61f) < 1e-6f);
  CHECK(dk_classifier_info(NULL, &info) == DK_INVALID_ARGUMENT);

  CHECK(dk_classify_file(classifier, png, NULL, &from_file) == DK_OK);
  if (from_file == NULL) {
    dk_classifier_free(classifier);
    return;
  }
  CHECK(from_file->height == H && from_file->width == W && from_file->class_count == 3);
  CHECK(from_file->defect_probability == from_file->probabilities[1] && from_file->defect_class == 1);
  CHECK(fabs(from_file->probabilities[0] + from_file->probabilities[1] + from_file->probabilities[2] - 1.0) < 1e-5);
  CHECK(from_file->is_defective == (from_file->defect_probability >= 0.31f));
  CHECK(from_file->region_count == 1 && from_file->regions[0].x == 4 && from_file->regions[0].y == 3);
  CHECK(from_file->regions[0].width == 8 && from_file->regions[0].height == 5 && from_file->regions[0].area == 40);
  /* mask = (0.5 R + 0.3 G + 0.2 B) / 255 */
  CHECK(fabsf(from_file->mask[0] -
              (0.5f * image_value(0, 0, 0) + 0.3f * image_value(1, 0, 0) + 0.2f * image_value(2, 0, 0)) / 255.0f) <
        1e-5f);

  /* The same pixels from memory: packed RGB, RGBA, uint16, and the encoded bytes. */
  rgb = malloc((size_t)H * W * 3);
  rgba = malloc((size_t)H * W * 4);
  wide = malloc(sizeof(uint16_t) * H * W * 3);
  for (y = 0; y < H; ++y)
    for (x = 0; x < W; ++x) {
      for (c = 0; c < 3; ++c) {
        rgb[(y * W + x) * 3 + c] = (unsigned char)image_value(c, y, x);
        rgba[(y * W + x) * 4 + c] = (unsigned char)image_value(c, y, x);
        wide[(y * W + x) * 3 + c] = (uint16_t)(image_value(c, y, x) * 257);
      }
      rgba[(y * W + x) * 4 + 3] = 17;
    }
  CHECK(dk_classify_buffer(classifier, rgb, (size_t)H * W * 3, DK_UINT8, 3, H, W, 0, NULL, &other) == DK_OK);
  CHECK(other && same_floats(other->mask, from_file->mask, (size_t)H * W) &&
        same_floats(other->probabilities, from_file->probabilities, 3));
  dk_classification_free(other);
  other = NULL;
  CHECK(dk_classify_buffer(classifier, rgba, (size_t)H * W * 4, DK_UINT8, 4, H, W, 0, NULL, &other) == DK_OK);
  CHECK(other && same_floats(other->mask, from_file->mask, (size_t)H * W));
  dk_classification_free(other);
  other = NULL;
  CHECK(dk_classify_buffer(classifier, wide, sizeof(uint16_t) * H * W * 3, DK_UINT16, 3, H, W, 0, NULL, &other) ==
        DK_OK);
  CHECK(other && same_floats(other->mask, from_file->mask, (size_t)H * W));
  dk_classification_free(other);
  other = NULL;
  file = fopen(png, "rb");
  CHECK(file != NULL);
  if (file != NULL) {
    fseek(file, 0, SEEK_END);
    encoded_size = ftell(file);
    fseek(file, 0, SEEK_SET);
    encoded = malloc((size_t)encoded_size);
    CHECK(fread(encoded, 1, (size_t)encoded_size, file) == (size_t)encoded_size);
    fclose(file);
    CHECK(dk_classify_encoded(classifier, encoded, (size_t)encoded_size, NULL, &other) == DK_OK);
    CHECK(other && same_floats(other->mask, from_file->mask, (size_t)H * W));
    dk_classification_free(other);
    other = NULL;
    CHECK(dk_classify_encoded(classifier, encoded, (size_t)encoded_size / 2, NULL, &other) == DK_BAD_FILE);
    CHECK(other == NULL && strstr(dk_last_error(), "image buffer: corrupt or truncated PNG") != NULL);
    free(encoded);
  }

  /* Per-call thresholds; NaN keeps the artifact's. */
  dk_classify_options_init(&options);
  CHECK(isnan(options.defect_threshold) && isnan(options.pixel_threshold));
  options.defect_threshold = from_file->defect_probability;
  options.pixel_threshold = 0.0f;
  CHECK(dk_classify_file(classifier, png, &options, &other) == DK_OK);
  CHECK(other && other->is_defective == 1 && other->region_count == 1 && other->regions[0].area == H * W);
  CHECK(other && other->defect_threshold == from_file->defect_probability && other->pixel_threshold == 0.0f);
  dk_classification_free(other);
  other = NULL;

  /* Refusals: a code and a message, no result. */
  CHECK(dk_classify_file(classifier, missing, NULL, &other) == DK_FILE_NOT_FOUND && other == NULL);
  CHECK(strstr(dk_last_error(), "no_such.png: no such file") != NULL);
  CHECK(dk_classify_buffer(classifier, rgb, (size_t)H * W * 3, DK_FLOAT32, 3, H, W, 0, NULL, &other) ==
        DK_INVALID_ARGUMENT);
  CHECK(dk_classify_buffer(classifier, rgb, (size_t)H * W * 3, (dk_dtype)7, 3, H, W, 0, NULL, &other) ==
        DK_INVALID_ARGUMENT);
  CHECK(dk_classify_buffer(classifier, rgb, (size_t)H * W * 3 - 1, DK_UINT8, 3, H, W, 0, NULL, &other) ==
        DK_INVALID_ARGUMENT);
  CHECK(strstr(dk_last_error(), "image buffer: holds 1799 bytes") != NULL);
  CHECK(dk_classify_buffer(classifier, rgb, (size_t)H * W * 3, DK_UINT8, 2, H, W, 0, NULL, &other) ==
        DK_INVALID_ARGUMENT);
  CHECK(dk_classify_buffer(classifier, NULL, 0, DK_UINT8, 3, H, W, 0, NULL, &other) == DK_INVALID_ARGUMENT);
  CHECK(dk_classify_file(NULL, png, NULL, &other) == DK_INVALID_ARGUMENT && other == NULL);
  CHECK(dk_classify_file(classifier, png, NULL, NULL) == DK_INVALID_ARGUMENT);
  dk_classification_free(NULL);
  dk_classifier_free(NULL);

  free(rgb);
  free(rgba);
  free(wide);
  dk_classification_free(from_file);
  dk_classifier_free(classifier);
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

  /* Provider options: for the openvino provider only, in key/value pairs. */
  {
    const char* pairs[] = {"reshape_input", "strip[1,4,16,16]", NULL};
    const char* dangling[] = {"reshape_input", NULL};
    dk_inspector_options options;
    dk_inspector_options_init(&options);
    CHECK(options.provider_options == NULL);
    options.provider_options = pairs;
    CHECK(dk_inspector_create(artifact, &options, &inspector) == DK_INVALID_ARGUMENT && inspector == NULL);
    CHECK(strstr(dk_last_error(), "openvino provider only; CPUExecutionProvider was given 1") != NULL);
    options.provider_options = dangling;
    CHECK(dk_inspector_create(artifact, &options, &inspector) == DK_INVALID_ARGUMENT);
    CHECK(strstr(dk_last_error(), "provider option 'reshape_input' has no value") != NULL);
  }

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

  /* The same artifact in format 2 gives the same inspection. */
  {
    char v2[4096];
    dk_inspector* inspector_v2 = NULL;
    snprintf(v2, sizeof v2, "%s/patch_v2.onnx", argv[1]);
    CHECK(dk_inspector_create(v2, NULL, &inspector_v2) == DK_OK);
    if (inspector_v2 != NULL && from_file != NULL) {
      CHECK(dk_inspect_file(inspector_v2, strip, NULL, &result) == DK_OK);
      if (result) CHECK(memcmp(from_file->heatmap, result->heatmap, sizeof(float) * H * W) == 0);
      dk_inspection_free(result);
      result = NULL;
    }
    dk_inspector_free(inspector_v2);
  }
  test_session(argv[1]);
  test_classifier(argv[1]);

  dk_inspection_free(from_file);
  dk_inspection_free(from_buffer);
  dk_inspector_free(inspector);
  free(chw);
  free(hwc8);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
