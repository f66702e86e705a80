#include "defectkit/model.h"

#include <onnxruntime_cxx_api.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_map>

#include "defectkit/error.h"
#include "defectkit/input_bounds.h"
#include "defectkit/onnxruntime_loader.h"

namespace defectkit {
namespace {

// One Env per process, as ONNX Runtime asks; created after the library is
// loaded and kept for the life of the process.
Ort::Env& shared_env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "defectkit");
  return env;
}

// The one place where ONNX Runtime's exceptions become ours.
[[noreturn]] void rethrow_ort(const Ort::Exception& e, ErrorCode code, const std::string& context) {
  throw Error(code, context + ": " + e.what());
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string shape_string(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t d = 0; d < s.size(); ++d) out += (d ? ", " : "") + std::to_string(s[d]);
  return out + ")";
}

struct OrtType {
  ElementType type;
  ONNXTensorElementDataType onnx;
};
constexpr OrtType kOrtTypes[] = {
    {ElementType::kFloat32, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT},
    {ElementType::kUInt8, ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8},
    {ElementType::kInt64, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64},
    {ElementType::kInt8, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8},
    {ElementType::kInt32, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32},
    {ElementType::kFloat64, ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE},
    {ElementType::kBool, ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL},
};

ElementType from_onnx(ONNXTensorElementDataType onnx) {
  for (const auto& t : kOrtTypes) {
    if (t.onnx == onnx) return t.type;
  }
  return ElementType::kOther;
}

ONNXTensorElementDataType to_onnx(ElementType type) {
  for (const auto& t : kOrtTypes) {
    if (t.type == type) return t.onnx;
  }
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

std::vector<TensorInfo> describe(const Ort::Session& session, bool inputs) {
  Ort::AllocatorWithDefaultOptions allocator;
  const size_t count = inputs ? session.GetInputCount() : session.GetOutputCount();
  std::vector<TensorInfo> result;
  for (size_t i = 0; i < count; ++i) {
    TensorInfo info;
    info.name =
        (inputs ? session.GetInputNameAllocated(i, allocator) : session.GetOutputNameAllocated(i, allocator)).get();
    Ort::TypeInfo type = inputs ? session.GetInputTypeInfo(i) : session.GetOutputTypeInfo(i);
    info.dtype = ElementType::kOther;
    if (type.GetONNXType() == ONNX_TYPE_TENSOR) {
      auto tensor = type.GetTensorTypeAndShapeInfo();
      info.shape = tensor.GetShape();
      info.dtype = from_onnx(tensor.GetElementType());
      std::vector<const char*> symbols(info.shape.size(), nullptr);
      tensor.GetSymbolicDimensions(symbols.data(), symbols.size());
      for (size_t d = 0; d < info.shape.size(); ++d) {
        info.dimension_names.push_back(info.shape[d] < 0 && symbols[d] != nullptr ? symbols[d] : "");
      }
    }
    result.push_back(std::move(info));
  }
  return result;
}

// Maps a short provider name to ONNX Runtime's and appends it to the session
// options; CPU needs nothing appended (it is always the fallback).
std::string configure_provider(Ort::SessionOptions& so, const std::string& requested,
                               const std::map<std::string, std::string>& provider_options, const OnnxRuntimeInfo& ort) {
  const std::string key = lower(requested.empty() ? "cpu" : requested);
  std::string name;
  if (key == "cpu" || key == "cpuexecutionprovider")
    name = "CPUExecutionProvider";
  else if (key == "cuda" || key == "cudaexecutionprovider")
    name = "CUDAExecutionProvider";
  else if (key == "tensorrt" || key == "tensorrtexecutionprovider")
    name = "TensorrtExecutionProvider";
  else if (key == "openvino" || key == "openvinoexecutionprovider")
    name = "OpenVINOExecutionProvider";
  else
    throw Error(ErrorCode::kInvalidArgument,
                "unknown execution provider '" + requested + "' (expected cpu, cuda, tensorrt or openvino)");
  if (std::find(ort.providers.begin(), ort.providers.end(), name) == ort.providers.end()) {
    std::string offered;
    for (const auto& p : ort.providers) offered += (offered.empty() ? "" : ", ") + p;
    throw Error(ErrorCode::kBackend, "execution provider " + name + " is not in the loaded ONNX Runtime " +
                                         ort.version + " (" + ort.library_path + "), which offers: " + offered);
  }
  if (name == "CUDAExecutionProvider") so.AppendExecutionProvider_CUDA(OrtCUDAProviderOptions{});
  if (name == "TensorrtExecutionProvider") so.AppendExecutionProvider_TensorRT(OrtTensorRTProviderOptions{});
  if (!provider_options.empty() && name != "OpenVINOExecutionProvider")
    throw Error(ErrorCode::kInvalidArgument, "provider options are passed to the openvino provider only; " + name +
                                                 " was given " + std::to_string(provider_options.size()));
  if (name == "OpenVINOExecutionProvider") {
    // ONNX Runtime rejects an unknown key or a bad value itself, naming it (rethrown by load).
    const std::unordered_map<std::string, std::string> options(provider_options.begin(), provider_options.end());
    so.AppendExecutionProvider_OpenVINO_V2(options);
  }
  return name;
}

GraphOptimizationLevel ort_level(GraphOptimization level) {
  switch (level) {
    case GraphOptimization::kDisable:
      return ORT_DISABLE_ALL;
    case GraphOptimization::kBasic:
      return ORT_ENABLE_BASIC;
    case GraphOptimization::kExtended:
      return ORT_ENABLE_EXTENDED;
    case GraphOptimization::kAll:
      return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

}  // namespace

GraphOptimization parse_graph_optimization(const std::string& name) {
  const std::string key = lower(name);
  if (key == "disable" || key == "none") return GraphOptimization::kDisable;
  if (key == "basic") return GraphOptimization::kBasic;
  if (key == "extended") return GraphOptimization::kExtended;
  if (key == "all") return GraphOptimization::kAll;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown graph optimisation level '" + name + "' (expected disable, basic, extended or all)");
}

struct Model::Impl {
  std::string path;
  std::string provider;
  Ort::Session session{nullptr};
  Ort::MemoryInfo cpu{nullptr};
  std::vector<TensorInfo> inputs, outputs;
  std::vector<const char*> input_names, output_names;  // point into inputs/outputs, cached once
  std::map<std::string, std::string> metadata;
  // Per input, in inputs order: the shapes the provider was fixed to (empty: any the graph takes).
  std::vector<std::vector<DimensionBound>> bounds;
  std::string reshape_input;  // the option as given, for messages

  // Wraps the caller's input buffers as ONNX Runtime tensors (no copy) after
  // checking count, element type, rank, fixed dimensions and buffer size.
  std::vector<Ort::Value> wrap_inputs(const std::vector<TypedTensorView>& views) const;
  std::vector<Ort::Value> wrap_inputs(const std::vector<TensorView>& views) const;
  std::vector<Ort::Value> run(std::vector<Ort::Value>& values) const;
};

std::vector<Ort::Value> Model::Impl::wrap_inputs(const std::vector<TypedTensorView>& views) const {
  if (views.size() != inputs.size()) {
    throw Error(ErrorCode::kInvalidArgument, path + ": the model takes " + std::to_string(inputs.size()) +
                                                 " inputs, got " + std::to_string(views.size()));
  }
  std::vector<Ort::Value> values;
  values.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& expected = inputs[i];
    const auto& view = views[i];
    if (expected.dtype == ElementType::kOther) {
      throw Error(ErrorCode::kUnsupported,
                  path + ": input '" + expected.name + "' has an element type defectkit does not pass");
    }
    if (view.dtype != expected.dtype) {
      throw Error(ErrorCode::kInvalidArgument, path + ": input '" + expected.name + "' is " +
                                                   element_type_name(expected.dtype) + ", got " +
                                                   element_type_name(view.dtype));
    }
    bool fits = view.data != nullptr && view.shape.size() == expected.shape.size();
    for (size_t d = 0; fits && d < view.shape.size(); ++d) {
      fits = view.shape[d] > 0 && (expected.shape[d] < 0 || expected.shape[d] == view.shape[d]);
    }
    if (!fits) {
      throw Error(ErrorCode::kInvalidArgument, path + ": input '" + expected.name + "' expects shape " +
                                                   shape_string(expected.shape) + ", got " + shape_string(view.shape));
    }
    if (!bounds[i].empty() && !within_bounds(view.shape, bounds[i])) {
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": input '" + expected.name + "' is " + shape_string(view.shape) + ", outside the " +
                      bounds_string(bounds[i]) + " the openvino provider was fixed to (reshape_input '" +
                      reshape_input + "'); open a session without it, or one per shape");
    }
    const size_t bytes =
        element_count(view.shape, view.dtype, path + ": input '" + expected.name + "'") * element_size(view.dtype);
    if (view.size_bytes < bytes) {
      throw Error(ErrorCode::kInvalidArgument, path + ": input '" + expected.name + "' holds " +
                                                   std::to_string(view.size_bytes) + " bytes but its shape " +
                                                   shape_string(view.shape) + " needs " + std::to_string(bytes));
    }
    // ONNX Runtime only reads inputs; the const_cast is its API's, not a write.
    values.push_back(Ort::Value::CreateTensor(cpu, const_cast<void*>(view.data), bytes, view.shape.data(),
                                              view.shape.size(), to_onnx(view.dtype)));
  }
  return values;
}

std::vector<Ort::Value> Model::Impl::wrap_inputs(const std::vector<TensorView>& views) const {
  std::vector<TypedTensorView> typed(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    typed[i].data = views[i].data;
    typed[i].shape = views[i].shape;
    // The float API has no byte count: the caller vouches for the shape, as before.
    typed[i].size_bytes = std::numeric_limits<size_t>::max();
  }
  return wrap_inputs(typed);
}

// Runs every output. Session::Run is documented thread-safe; the C++ wrapper is merely not const.
std::vector<Ort::Value> Model::Impl::run(std::vector<Ort::Value>& values) const {
  try {
    return const_cast<Ort::Session&>(session).Run(Ort::RunOptions{nullptr}, input_names.data(), values.data(),
                                                  values.size(), output_names.data(), output_names.size());
  } catch (const Ort::Exception& e) {
    rethrow_ort(e, ErrorCode::kBackend, path + ": inference failed");
  }
}

// Per input, the bounds `fixed` gives it; refuses a name that is no input, another rank, and a
// fixed dimension of the graph outside its bound (nothing could ever run).
static std::vector<std::vector<DimensionBound>> input_bounds(const std::string& path,
                                                             const std::vector<TensorInfo>& inputs,
                                                             const InputBounds& fixed) {
  std::vector<std::vector<DimensionBound>> out(inputs.size());
  for (const auto& [name, bounds] : fixed) {
    size_t i = 0;
    while (i < inputs.size() && inputs[i].name != name) ++i;
    if (i == inputs.size()) {
      std::string names;
      for (const auto& info : inputs) names += (names.empty() ? "'" : ", '") + info.name + "'";
      throw Error(ErrorCode::kInvalidArgument, path + ": reshape_input names '" + name +
                                                   "', which is not an input of this model (its inputs: " + names + ")");
    }
    const TensorInfo& info = inputs[i];
    bool fits = bounds.size() == info.shape.size();
    for (size_t d = 0; fits && d < bounds.size(); ++d) {
      fits = info.shape[d] < 0 || (bounds[d].min <= info.shape[d] && info.shape[d] <= bounds[d].max);
    }
    if (!fits) {
      throw Error(ErrorCode::kInvalidArgument, path + ": reshape_input gives '" + name + "' " +
                                                   bounds_string(bounds) + ", but the model's input is " +
                                                   shape_string(info.shape));
    }
    out[i] = bounds;
  }
  return out;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, const ModelOptions& options) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kFileNotFound, path + ": no such model file");
  }
  const OnnxRuntimeInfo& ort = load_onnxruntime(options.onnxruntime_library);

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  // Parsed before the provider sees it: the OpenVINO provider answers a malformed value with
  // "Failed to load shared library". Checked against the inputs once the session describes them.
  InputBounds fixed;
  const auto reshape = options.provider_options.find("reshape_input");
  if (reshape != options.provider_options.end()) {
    fixed = parse_reshape_input(reshape->second);
    impl->reshape_input = reshape->second;
  }
  try {
    Ort::SessionOptions session_options;
    session_options.SetIntraOpNumThreads(options.intra_op_threads);
    session_options.SetInterOpNumThreads(options.inter_op_threads);
    session_options.SetGraphOptimizationLevel(ort_level(options.graph_optimization));
    // The environment first: appending a provider loads its library, which logs through the
    // environment's default logger (OpenVINO's provider aborted the load without one).
    Ort::Env& env = shared_env();
    impl->provider =
        configure_provider(session_options, options.execution_provider, options.provider_options, ort);
    impl->session = Ort::Session(env, path.c_str(), session_options);
    impl->cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  } catch (const Ort::Exception& e) {
    rethrow_ort(e, ErrorCode::kModel, path + ": ONNX Runtime cannot load this model");
  }
  try {
    impl->inputs = describe(impl->session, true);
    impl->outputs = describe(impl->session, false);
    Ort::AllocatorWithDefaultOptions allocator;
    Ort::ModelMetadata meta = impl->session.GetModelMetadata();
    for (const auto& key : meta.GetCustomMetadataMapKeysAllocated(allocator)) {
      impl->metadata[key.get()] = meta.LookupCustomMetadataMapAllocated(key.get(), allocator).get();
    }
  } catch (const Ort::Exception& e) {
    rethrow_ort(e, ErrorCode::kModel, path + ": cannot read the model's inputs, outputs or metadata");
  }
  for (const auto& info : impl->inputs) impl->input_names.push_back(info.name.c_str());
  impl->bounds = input_bounds(path, impl->inputs, fixed);
  for (const auto& info : impl->outputs) impl->output_names.push_back(info.name.c_str());
  return Model(std::move(impl));
}

const std::string& Model::path() const { return impl_->path; }
const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::map<std::string, std::string>& Model::metadata() const { return impl_->metadata; }
const std::string& Model::execution_provider() const { return impl_->provider; }

std::vector<Tensor> Model::run(const std::vector<TensorView>& inputs) const {
  const Impl& m = *impl_;
  std::vector<Ort::Value> values = m.wrap_inputs(inputs);
  std::vector<Ort::Value> results = m.run(values);
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < results.size(); ++i) {
    auto info = results[i].GetTensorTypeAndShapeInfo();
    if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      throw Error(ErrorCode::kModel, m.path + ": output '" + m.outputs[i].name + "' is not float32");
    }
    Tensor t;
    t.shape = info.GetShape();
    const float* data = results[i].GetTensorData<float>();
    t.data.assign(data, data + info.GetElementCount());
    outputs.push_back(std::move(t));
  }
  return outputs;
}

void Model::run_into(const std::vector<TensorView>& inputs, const std::vector<MutableTensorView>& outputs) const {
  const Impl& m = *impl_;
  if (outputs.size() != m.outputs.size()) {
    throw Error(ErrorCode::kInvalidArgument, m.path + ": the model has " + std::to_string(m.outputs.size()) +
                                                 " outputs, got " + std::to_string(outputs.size()) + " buffers");
  }
  std::vector<Ort::Value> values = m.wrap_inputs(inputs);
  std::vector<const char*> names;
  std::vector<Ort::Value> results;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& view = outputs[i];
    if (view.data == nullptr) continue;
    const size_t count = std::accumulate(view.shape.begin(), view.shape.end(), size_t{1}, [](size_t a, int64_t b) {
      return a * static_cast<size_t>(std::max<int64_t>(b, 0));
    });
    names.push_back(m.output_names[i]);
    results.push_back(Ort::Value::CreateTensor<float>(m.cpu, view.data, count, view.shape.data(), view.shape.size()));
  }
  try {
    const_cast<Ort::Session&>(m.session).Run(Ort::RunOptions{nullptr}, m.input_names.data(), values.data(),
                                             values.size(), names.data(), results.data(), results.size());
  } catch (const Ort::Exception& e) {
    rethrow_ort(e, ErrorCode::kBackend, m.path + ": inference failed");
  }
}

std::vector<TypedTensor> Model::run_typed(const std::vector<TypedTensorView>& inputs) const {
  const Impl& m = *impl_;
  std::vector<Ort::Value> values = m.wrap_inputs(inputs);
  std::vector<Ort::Value> results = m.run(values);
  std::vector<TypedTensor> outputs(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    auto info = results[i].GetTensorTypeAndShapeInfo();
    TypedTensor& t = outputs[i];
    t.dtype = from_onnx(info.GetElementType());
    if (t.dtype == ElementType::kOther) {
      throw Error(ErrorCode::kUnsupported,
                  m.path + ": output '" + m.outputs[i].name + "' has an element type defectkit does not return");
    }
    t.shape = info.GetShape();
    const size_t bytes = info.GetElementCount() * element_size(t.dtype);
    const auto* data = static_cast<const uint8_t*>(results[i].GetTensorRawData());
    t.bytes.assign(data, data + bytes);
  }
  return outputs;
}

}  // namespace defectkit
