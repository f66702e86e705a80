#include "defectkit/model.h"

#include <sys/stat.h>

#include <numeric>

#include <onnxruntime_cxx_api.h>

#include "defectkit/error.h"
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

std::vector<TensorInfo> describe(const Ort::Session& session, bool inputs) {
  Ort::AllocatorWithDefaultOptions allocator;
  const size_t count = inputs ? session.GetInputCount() : session.GetOutputCount();
  std::vector<TensorInfo> result;
  for (size_t i = 0; i < count; ++i) {
    TensorInfo info;
    info.name = (inputs ? session.GetInputNameAllocated(i, allocator) : session.GetOutputNameAllocated(i, allocator)).get();
    Ort::TypeInfo type = inputs ? session.GetInputTypeInfo(i) : session.GetOutputTypeInfo(i);
    if (type.GetONNXType() == ONNX_TYPE_TENSOR) info.shape = type.GetTensorTypeAndShapeInfo().GetShape();
    result.push_back(std::move(info));
  }
  return result;
}

}  // namespace

struct Model::Impl {
  std::string path;
  Ort::Session session{nullptr};
  std::vector<TensorInfo> inputs, outputs;
  std::vector<const char*> input_names, output_names;  // point into inputs/outputs, cached once
  std::map<std::string, std::string> metadata;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, const ModelOptions& options) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kFileNotFound, path + ": no such model file");
  }
  load_onnxruntime(options.onnxruntime_library);

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  try {
    Ort::SessionOptions session_options;
    session_options.SetIntraOpNumThreads(options.intra_op_threads);
    session_options.SetInterOpNumThreads(options.inter_op_threads);
    impl->session = Ort::Session(shared_env(), path.c_str(), session_options);
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
  for (const auto& info : impl->outputs) impl->output_names.push_back(info.name.c_str());
  return Model(std::move(impl));
}

const std::string& Model::path() const { return impl_->path; }
const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::map<std::string, std::string>& Model::metadata() const { return impl_->metadata; }

std::vector<Tensor> Model::run(const std::vector<TensorView>& inputs) const {
  const Impl& m = *impl_;
  if (inputs.size() != m.inputs.size()) {
    throw Error(ErrorCode::kInvalidArgument, m.path + ": the model takes " + std::to_string(m.inputs.size()) +
                                                 " inputs, got " + std::to_string(inputs.size()));
  }
  Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> values;
  values.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& expected = m.inputs[i];
    const auto& view = inputs[i];
    bool fits = view.data != nullptr && view.shape.size() == expected.shape.size();
    for (size_t d = 0; fits && d < view.shape.size(); ++d) {
      fits = view.shape[d] > 0 && (expected.shape[d] < 0 || expected.shape[d] == view.shape[d]);
    }
    if (!fits) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string out = "(";
        for (size_t d = 0; d < s.size(); ++d) out += (d ? ", " : "") + std::to_string(s[d]);
        return out + ")";
      };
      throw Error(ErrorCode::kInvalidArgument, m.path + ": input '" + expected.name + "' expects shape " +
                                                   str(expected.shape) + ", got " + str(view.shape));
    }
    const size_t count = std::accumulate(view.shape.begin(), view.shape.end(), size_t{1},
                                         [](size_t a, int64_t b) { return a * static_cast<size_t>(b); });
    // ONNX Runtime only reads inputs; the const_cast is its API's, not a write.
    values.push_back(Ort::Value::CreateTensor<float>(cpu, const_cast<float*>(view.data), count, view.shape.data(),
                                                     view.shape.size()));
  }
  std::vector<Ort::Value> results;
  try {
    results = const_cast<Ort::Session&>(m.session)
                  .Run(Ort::RunOptions{nullptr}, m.input_names.data(), values.data(), values.size(),
                       m.output_names.data(), m.output_names.size());
  } catch (const Ort::Exception& e) {
    rethrow_ort(e, ErrorCode::kBackend, m.path + ": inference failed");
  }
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

}  // namespace defectkit
