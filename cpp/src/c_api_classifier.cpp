// The C API over ImageClassifier (defectkit_c.h, "The image classifier"):
// every entry point catches everything, so no C++ exception reaches a C
// caller; failures leave a thread-local message.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "c_api_internal.h"
#include "defectkit/defectkit_c.h"
#include "defectkit/image_classifier.h"

struct dk_classifier {
  defectkit::ImageClassifier classifier;
  std::vector<const char*> class_names;  // into classifier.info().classes
};

namespace {

using defectkit::c_api::guarded;
using defectkit::c_api::model_options;
using defectkit::c_api::raw_enum;
using defectkit::c_api::require;

defectkit::ClassifyOptions to_cpp(const dk_classify_options* o) {
  defectkit::ClassifyOptions options;
  if (o == nullptr) return options;
  if (!std::isnan(o->defect_threshold)) options.defect_threshold = o->defect_threshold;
  if (!std::isnan(o->pixel_threshold)) options.pixel_threshold = o->pixel_threshold;
  return options;
}

// Copies a result into a C struct the caller releases with dk_classification_free.
dk_classification* to_c(const defectkit::Classification& r) {
  auto* out = new dk_classification{};
  try {
    out->class_count = r.probabilities.size();
    out->probabilities = new float[r.probabilities.size() + 1];  // +1: never a zero-length new[]
    std::memcpy(out->probabilities, r.probabilities.data(), r.probabilities.size() * sizeof(float));
    out->top_class = r.top_class;
    out->defect_class = r.defect_class;
    out->defect_probability = r.defect_probability;
    out->is_defective = r.is_defective ? 1 : 0;
    out->height = r.height;
    out->width = r.width;
    out->mask = new float[r.mask.size() + 1];
    std::memcpy(out->mask, r.mask.data(), r.mask.size() * sizeof(float));
    out->region_count = r.regions.size();
    out->regions = new dk_region[r.regions.size() + 1];
    for (size_t i = 0; i < r.regions.size(); ++i) {
      const auto& g = r.regions[i];
      out->regions[i] = {g.x, g.y, g.width, g.height, g.area, g.peak, g.centroid_x, g.centroid_y};
    }
    out->defect_threshold = r.defect_threshold;
    out->pixel_threshold = r.pixel_threshold;
  } catch (...) {
    dk_classification_free(out);
    throw;
  }
  return out;
}

}  // namespace

extern "C" {

void dk_classify_options_init(dk_classify_options* o) {
  if (o == nullptr) return;
  o->defect_threshold = NAN;
  o->pixel_threshold = NAN;
}

dk_status dk_classifier_create(const char* path, const dk_inspector_options* o, dk_classifier** out) {
  return guarded([&] {
    require(out != nullptr, "dk_classifier_create: out is NULL");
    *out = nullptr;
    require(path != nullptr, "dk_classifier_create: artifact_path is NULL");
    defectkit::ImageClassifierOptions options;
    options.model = model_options(o);
    auto* created = new dk_classifier{defectkit::ImageClassifier::open(path, options), {}};
    for (const auto& name : created->classifier.info().classes) created->class_names.push_back(name.c_str());
    *out = created;
  });
}

void dk_classifier_free(dk_classifier* classifier) { delete classifier; }

dk_status dk_classifier_info(const dk_classifier* classifier, dk_classifier_artifact_info* out) {
  return guarded([&] {
    require(classifier != nullptr && out != nullptr, "dk_classifier_info: NULL argument");
    const auto& info = classifier->classifier.info();
    out->class_count = classifier->class_names.size();
    out->classes = classifier->class_names.data();
    out->defect_class = info.defect_class;
    out->channels = info.channels;
    out->input_height = info.input_height;
    out->input_width = info.input_width;
    out->defect_threshold = info.defect_threshold;
    out->pixel_threshold = info.pixel_threshold;
  });
}

dk_status dk_classify_file(const dk_classifier* classifier, const char* path, const dk_classify_options* o,
                           dk_classification** out) {
  return guarded([&] {
    require(out != nullptr, "dk_classify_file: out is NULL");
    *out = nullptr;
    require(classifier != nullptr && path != nullptr, "dk_classify_file: NULL classifier or path");
    *out = to_c(classifier->classifier.classify(std::string(path), to_cpp(o)));
  });
}

dk_status dk_classify_encoded(const dk_classifier* classifier, const void* data, size_t size_bytes,
                              const dk_classify_options* o, dk_classification** out) {
  return guarded([&] {
    require(out != nullptr, "dk_classify_encoded: out is NULL");
    *out = nullptr;
    require(classifier != nullptr, "dk_classify_encoded: classifier is NULL");
    *out = to_c(classifier->classifier.classify_encoded(data, size_bytes, to_cpp(o)));
  });
}

dk_status dk_classify_buffer(const dk_classifier* classifier, const void* data, size_t size_bytes, dk_dtype dtype,
                             int channels, int height, int width, size_t row_stride, const dk_classify_options* o,
                             dk_classification** out) {
  return guarded([&] {
    require(out != nullptr, "dk_classify_buffer: out is NULL");
    *out = nullptr;
    require(classifier != nullptr, "dk_classify_buffer: classifier is NULL");
    const int raw_dtype = raw_enum(dtype);  // C callers may pass any int as an enum
    require(raw_dtype == DK_UINT8 || raw_dtype == DK_UINT16,
            "dk_classify_buffer: dtype " + std::to_string(raw_dtype) + " (expected DK_UINT8 or DK_UINT16)");
    defectkit::ImageView view;
    view.data = data;
    view.size_bytes = size_bytes;
    view.pixel_type = raw_dtype == DK_UINT8 ? defectkit::PixelType::kUInt8 : defectkit::PixelType::kUInt16;
    view.channels = channels;
    view.height = height;
    view.width = width;
    view.row_stride = row_stride;
    *out = to_c(classifier->classifier.classify(view, to_cpp(o)));
  });
}

void dk_classification_free(dk_classification* classification) {
  if (classification == nullptr) return;
  delete[] classification->probabilities;
  delete[] classification->mask;
  delete[] classification->regions;
  delete classification;
}

}  // extern "C"
