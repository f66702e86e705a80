// The C API over ArtifactSession: any artifact's metadata as C views cached
// once per session, and runs with named, typed tensors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "c_api_internal.h"
#include "defectkit/artifact_session.h"
#include "defectkit/defectkit_c.h"

namespace {

// What a dk_tensor_spec points into: owned by the session, built once.
struct SpecStorage {
  std::vector<int64_t> shape;
  std::vector<const char*> symbols;  // into the session's TensorSpec Dims
};

}  // namespace

struct dk_session {
  defectkit::ArtifactSession session;
  std::vector<SpecStorage> inputs, outputs;
  std::vector<std::string> threshold_names;

  explicit dk_session(defectkit::ArtifactSession s) : session(std::move(s)) {
    const auto& m = session.metadata();
    inputs = storage(m.inputs);
    outputs = storage(m.outputs);
    for (const auto& [name, value] : m.thresholds) threshold_names.push_back(name);
  }

  static std::vector<SpecStorage> storage(const std::vector<defectkit::TensorSpec>& specs) {
    std::vector<SpecStorage> out(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      for (const auto& dim : specs[i].shape) {
        out[i].shape.push_back(dim.size);
        out[i].symbols.push_back(dim.symbol.c_str());
      }
    }
    return out;
  }
};

namespace {

using defectkit::c_api::guarded;
using defectkit::c_api::raw_enum;
using defectkit::c_api::require;

dk_status describe(const dk_session* session, size_t index, bool input, dk_tensor_spec* out) {
  return guarded([&] {
    const char* what = input ? "dk_session_input" : "dk_session_output";
    require(session != nullptr && out != nullptr, std::string(what) + ": NULL argument");
    const auto& specs = input ? session->session.metadata().inputs : session->session.metadata().outputs;
    const auto& storage = input ? session->inputs : session->outputs;
    require(index < specs.size(), std::string(what) + ": index " + std::to_string(index) + " out of range (" +
                                      std::to_string(specs.size()) + ")");
    const auto& spec = specs[index];
    out->name = spec.name.c_str();
    out->dtype = static_cast<dk_element_type>(spec.dtype);
    out->rank = spec.shape.size();
    out->shape = storage[index].shape.data();
    out->symbols = storage[index].symbols.data();
    out->layout = spec.layout.c_str();
    out->scale = spec.scale ? *spec.scale : NAN;
    out->meaning = spec.meaning.c_str();
  });
}

bool known_element_type(int raw) {
  return raw >= DK_ELEMENT_FLOAT32 && raw <= DK_ELEMENT_BOOL;  // DK_ELEMENT_OTHER is never passed
}

// Copies one output into C memory the caller frees with dk_named_tensors_free.
void to_c(const std::string& name, const defectkit::TypedTensor& t, dk_named_tensor& out) {
  char* owned_name = new char[name.size() + 1];
  std::memcpy(owned_name, name.c_str(), name.size() + 1);
  out.name = owned_name;
  out.dtype = static_cast<dk_element_type>(t.dtype);
  auto* shape = new int64_t[t.shape.size() + 1];  // +1: never a zero-length new[]
  std::copy(t.shape.begin(), t.shape.end(), shape);
  out.shape = shape;
  out.rank = t.shape.size();
  auto* data = new unsigned char[t.bytes.size() + 1];  // new[] of char: aligned for any element type
  std::memcpy(data, t.bytes.data(), t.bytes.size());
  out.data = data;
  out.bytes = t.bytes.size();
}

}  // namespace

extern "C" {

dk_status dk_session_create(const char* path, const dk_inspector_options* o, dk_session** out) {
  return guarded([&] {
    require(out != nullptr, "dk_session_create: out is NULL");
    *out = nullptr;
    require(path != nullptr, "dk_session_create: artifact_path is NULL");
    *out = new dk_session(defectkit::ArtifactSession::open(path, defectkit::c_api::model_options(o)));
  });
}

void dk_session_free(dk_session* session) { delete session; }

size_t dk_session_input_count(const dk_session* s) { return s ? s->session.metadata().inputs.size() : 0; }
size_t dk_session_output_count(const dk_session* s) { return s ? s->session.metadata().outputs.size() : 0; }

dk_status dk_session_input(const dk_session* s, size_t index, dk_tensor_spec* out) {
  return describe(s, index, true, out);
}

dk_status dk_session_output(const dk_session* s, size_t index, dk_tensor_spec* out) {
  return describe(s, index, false, out);
}

int dk_session_format_version(const dk_session* s) { return s ? s->session.metadata().format_version : 0; }
const char* dk_session_family(const dk_session* s) { return s ? s->session.metadata().family.c_str() : nullptr; }
const char* dk_session_precision(const dk_session* s) { return s ? s->session.metadata().precision.c_str() : nullptr; }
const char* dk_session_family_section(const dk_session* s) {
  return s ? s->session.metadata().family_json.c_str() : nullptr;
}
const char* dk_session_provenance(const dk_session* s) {
  return s ? s->session.metadata().provenance_json.c_str() : nullptr;
}

size_t dk_session_threshold_count(const dk_session* s) { return s ? s->threshold_names.size() : 0; }

const char* dk_session_threshold_name(const dk_session* s, size_t index) {
  if (s == nullptr || index >= s->threshold_names.size()) return nullptr;
  return s->threshold_names[index].c_str();
}

dk_status dk_session_threshold(const dk_session* s, const char* name, float* out) {
  return guarded([&] {
    require(s != nullptr && name != nullptr && out != nullptr, "dk_session_threshold: NULL argument");
    const auto& thresholds = s->session.metadata().thresholds;
    const auto found = thresholds.find(name);
    if (found == thresholds.end()) {
      std::string names;
      for (const auto& n : s->threshold_names) names += (names.empty() ? "" : ", ") + n;
      require(false, s->session.path() + ": no threshold '" + name + "' (the artifact has: " + names + ")");
    }
    *out = found->second;
  });
}

dk_status dk_session_run(const dk_session* s, const dk_named_tensor* inputs, size_t input_count,
                         dk_named_tensor** outputs, size_t* output_count) {
  return guarded([&] {
    require(outputs != nullptr && output_count != nullptr, "dk_session_run: outputs or output_count is NULL");
    *outputs = nullptr;
    *output_count = 0;
    require(s != nullptr, "dk_session_run: session is NULL");
    require(inputs != nullptr || input_count == 0, "dk_session_run: inputs is NULL");
    std::map<std::string, defectkit::TypedTensorView> views;
    for (size_t i = 0; i < input_count; ++i) {
      const dk_named_tensor& t = inputs[i];
      require(t.name != nullptr, "dk_session_run: input " + std::to_string(i) + " has no name");
      const std::string name = t.name;
      const int raw = raw_enum(t.dtype);
      require(known_element_type(raw), "dk_session_run: input '" + name + "' has unknown dtype " + std::to_string(raw));
      require(t.shape != nullptr || t.rank == 0, "dk_session_run: input '" + name + "' has a NULL shape");
      require(views.count(name) == 0, "dk_session_run: input '" + name + "' is given twice");
      defectkit::TypedTensorView view;
      view.data = t.data;
      view.dtype = static_cast<defectkit::ElementType>(raw);
      view.shape.assign(t.shape, t.shape + t.rank);
      view.size_bytes = t.bytes;
      views.emplace(name, std::move(view));
    }
    const auto results = s->session.run(views);
    const auto& specs = s->session.metadata().outputs;
    auto* tensors = new dk_named_tensor[specs.size() + 1]{};  // +1: never a zero-length new[]
    try {
      for (size_t i = 0; i < specs.size(); ++i) to_c(specs[i].name, results.at(specs[i].name), tensors[i]);
    } catch (...) {
      dk_named_tensors_free(tensors, specs.size());
      throw;
    }
    *outputs = tensors;
    *output_count = specs.size();
  });
}

void dk_named_tensors_free(dk_named_tensor* tensors, size_t count) {
  if (tensors == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    delete[] tensors[i].name;
    delete[] tensors[i].shape;
    delete[] static_cast<unsigned char*>(tensors[i].data);
  }
  delete[] tensors;
}

}  // extern "C"
