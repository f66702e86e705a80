// The C API over Inspector and Model (the session's part: c_api_session.cpp):
// every entry point catches everything, so no C++ exception reaches a C
// caller; failures leave a thread-local message.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "c_api_internal.h"
#include "defectkit/defectkit_c.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/model.h"

#ifndef DEFECTKIT_VERSION
#define DEFECTKIT_VERSION "unknown"
#endif

struct dk_inspector {
  defectkit::Inspector inspector;
};

struct dk_model {
  defectkit::Model model;
};

namespace defectkit::c_api {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

ModelOptions model_options(const dk_inspector_options* o) {
  ModelOptions options;
  if (o == nullptr) return options;
  options.intra_op_threads = o->intra_op_threads;
  options.inter_op_threads = o->inter_op_threads;
  if (o->execution_provider) options.execution_provider = o->execution_provider;
  if (o->graph_optimization) options.graph_optimization = parse_graph_optimization(o->graph_optimization);
  if (o->onnxruntime_library) options.onnxruntime_library = o->onnxruntime_library;
  for (const char* const* kv = o->provider_options; kv != nullptr && *kv != nullptr; kv += 2) {
    require(kv[1] != nullptr, std::string("provider option '") + kv[0] + "' has no value");
    options.provider_options[kv[0]] = kv[1];
  }
  return options;
}

}  // namespace defectkit::c_api

namespace {

using defectkit::c_api::guarded;
using defectkit::c_api::model_options;
using defectkit::c_api::raw_enum;
using defectkit::c_api::require;

defectkit::InspectOptions to_cpp(const dk_inspect_options* o) {
  defectkit::InspectOptions options;
  if (o == nullptr) return options;
  if (!std::isnan(o->image_threshold)) options.image_threshold = o->image_threshold;
  if (!std::isnan(o->pixel_threshold)) options.pixel_threshold = o->pixel_threshold;
  options.roi = o->roi != 0;
  return options;
}

// Copies a result into a C struct the caller releases with dk_inspection_free.
dk_inspection* to_c(const defectkit::Inspection& r) {
  auto* out = new dk_inspection{};
  out->height = r.height;
  out->width = r.width;
  out->heatmap = new float[r.heatmap.size()];
  std::memcpy(out->heatmap, r.heatmap.data(), r.heatmap.size() * sizeof(float));
  out->score = r.score;
  out->is_defective = r.is_defective ? 1 : 0;
  out->region_count = r.regions.size();
  out->regions = new dk_region[r.regions.size() + 1];  // +1: never a zero-length new[]
  for (size_t i = 0; i < r.regions.size(); ++i) {
    const auto& g = r.regions[i];
    out->regions[i] = {g.x, g.y, g.width, g.height, g.area, g.peak, g.centroid_x, g.centroid_y};
  }
  out->image_threshold = r.image_threshold;
  out->pixel_threshold = r.pixel_threshold;
  return out;
}

}  // namespace

extern "C" {

void dk_inspector_options_init(dk_inspector_options* o) {
  if (o == nullptr) return;
  *o = dk_inspector_options{};
  o->max_batch = defectkit::InspectorOptions{}.max_batch;
}

void dk_inspect_options_init(dk_inspect_options* o) {
  if (o == nullptr) return;
  o->image_threshold = NAN;
  o->pixel_threshold = NAN;
  o->roi = 0;
}

dk_status dk_inspector_create(const char* path, const dk_inspector_options* o, dk_inspector** out) {
  return guarded([&] {
    require(out != nullptr, "dk_inspector_create: out is NULL");
    *out = nullptr;
    require(path != nullptr, "dk_inspector_create: artifact_path is NULL");
    defectkit::InspectorOptions options;
    options.model = model_options(o);
    if (o != nullptr && o->max_batch > 0) options.max_batch = o->max_batch;
    *out = new dk_inspector{defectkit::Inspector::open(path, options)};
  });
}

void dk_inspector_free(dk_inspector* inspector) { delete inspector; }

dk_status dk_inspector_info(const dk_inspector* inspector, dk_artifact_info* out) {
  return guarded([&] {
    require(inspector != nullptr && out != nullptr, "dk_inspector_info: NULL argument");
    const auto& info = inspector->inspector.info();
    out->graph = static_cast<dk_graph_kind>(info.graph);
    out->image_height = info.image_height;
    out->image_width = info.image_width;
    out->patch = info.graph == defectkit::GraphKind::kPatch ? info.tiling.patch : 0;
    out->image_threshold = info.thresholds.image;
    out->pixel_threshold = info.thresholds.pixel;
    out->roi = info.input.fourth_channel == defectkit::FourthChannel::kRoi ? 1 : 0;
  });
}

dk_status dk_inspect_file(const dk_inspector* inspector, const char* path, const dk_inspect_options* o,
                          dk_inspection** out) {
  return guarded([&] {
    require(out != nullptr, "dk_inspect_file: out is NULL");
    *out = nullptr;
    require(inspector != nullptr && path != nullptr, "dk_inspect_file: NULL inspector or path");
    *out = to_c(inspector->inspector.inspect(std::string(path), to_cpp(o)));
  });
}

dk_status dk_inspect_buffer(const dk_inspector* inspector, const void* data, size_t size_bytes, dk_dtype dtype,
                            dk_layout layout, int channels, int height, int width, const dk_inspect_options* o,
                            dk_inspection** out) {
  return guarded([&] {
    require(out != nullptr, "dk_inspect_buffer: out is NULL");
    *out = nullptr;
    require(inspector != nullptr, "dk_inspect_buffer: inspector is NULL");
    // C callers may pass any int as an enum: validate the raw integers.
    const int raw_dtype = raw_enum(dtype), raw_layout = raw_enum(layout);
    require(raw_dtype == DK_FLOAT32 || raw_dtype == DK_UINT8 || raw_dtype == DK_UINT16,
            "dk_inspect_buffer: unknown dtype " + std::to_string(raw_dtype));
    require(raw_layout == DK_CHW || raw_layout == DK_HWC,
            "dk_inspect_buffer: unknown layout " + std::to_string(raw_layout));
    defectkit::StripView view;
    view.data = data;
    view.size_bytes = size_bytes;
    view.dtype = raw_dtype == DK_FLOAT32
                     ? defectkit::DType::kFloat32
                     : (raw_dtype == DK_UINT8 ? defectkit::DType::kUInt8 : defectkit::DType::kUInt16);
    view.layout = raw_layout == DK_CHW ? defectkit::Layout::kCHW : defectkit::Layout::kHWC;
    view.channels = channels;
    view.height = height;
    view.width = width;
    *out = to_c(inspector->inspector.inspect(view, to_cpp(o)));
  });
}

void dk_inspection_free(dk_inspection* inspection) {
  if (inspection == nullptr) return;
  delete[] inspection->heatmap;
  delete[] inspection->regions;
  delete inspection;
}

dk_status dk_model_create(const char* path, const dk_inspector_options* o, dk_model** out) {
  return guarded([&] {
    require(out != nullptr, "dk_model_create: out is NULL");
    *out = nullptr;
    require(path != nullptr, "dk_model_create: model_path is NULL");
    *out = new dk_model{defectkit::Model::load(path, model_options(o))};
  });
}

void dk_model_free(dk_model* model) { delete model; }

size_t dk_model_input_count(const dk_model* model) { return model ? model->model.inputs().size() : 0; }

size_t dk_model_output_count(const dk_model* model) { return model ? model->model.outputs().size() : 0; }

const char* dk_model_input_name(const dk_model* model, size_t index) {
  if (model == nullptr || index >= model->model.inputs().size()) return nullptr;
  return model->model.inputs()[index].name.c_str();
}

const char* dk_model_output_name(const dk_model* model, size_t index) {
  if (model == nullptr || index >= model->model.outputs().size()) return nullptr;
  return model->model.outputs()[index].name.c_str();
}

const char* dk_model_metadata(const dk_model* model, const char* key) {
  if (model == nullptr || key == nullptr) return nullptr;
  const auto& metadata = model->model.metadata();
  const auto found = metadata.find(key);
  return found == metadata.end() ? nullptr : found->second.c_str();
}

dk_status dk_model_run(const dk_model* model, const dk_tensor* inputs, size_t input_count, dk_tensor** outputs) {
  return guarded([&] {
    require(outputs != nullptr, "dk_model_run: outputs is NULL");
    *outputs = nullptr;
    require(model != nullptr, "dk_model_run: model is NULL");
    require(inputs != nullptr || input_count == 0, "dk_model_run: inputs is NULL");
    std::vector<defectkit::TensorView> views(input_count);
    for (size_t i = 0; i < input_count; ++i) {
      require(inputs[i].data != nullptr && (inputs[i].shape != nullptr || inputs[i].rank == 0),
              "dk_model_run: an input tensor has NULL data or shape");
      views[i].data = inputs[i].data;
      views[i].shape.assign(inputs[i].shape, inputs[i].shape + inputs[i].rank);
    }
    const std::vector<defectkit::Tensor> results = model->model.run(views);
    auto* tensors = new dk_tensor[results.size() + 1]{};  // +1: never a zero-length new[]
    for (size_t i = 0; i < results.size(); ++i) {
      tensors[i].rank = results[i].shape.size();
      tensors[i].shape = new int64_t[tensors[i].rank + 1];
      std::copy(results[i].shape.begin(), results[i].shape.end(), tensors[i].shape);
      tensors[i].size = results[i].data.size();
      tensors[i].data = new float[tensors[i].size + 1];
      std::copy(results[i].data.begin(), results[i].data.end(), tensors[i].data);
    }
    *outputs = tensors;
  });
}

void dk_tensors_free(dk_tensor* tensors, size_t count) {
  if (tensors == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    delete[] tensors[i].data;
    delete[] tensors[i].shape;
  }
  delete[] tensors;
}

const char* dk_last_error(void) { return defectkit::c_api::last_error().c_str(); }

const char* dk_status_name(dk_status status) {
  if (status == DK_INTERNAL) return "internal";
  return defectkit::error_code_name(static_cast<defectkit::ErrorCode>(status));
}

const char* dk_version(void) { return DEFECTKIT_VERSION; }

}  // extern "C"
