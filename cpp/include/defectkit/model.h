// defectkit::Model — one ONNX Runtime session over an ONNX file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "defectkit/tensor.h"

namespace defectkit {

// ONNX Runtime's graph optimisation levels.
enum class GraphOptimization { kDisable, kBasic, kExtended, kAll };

// Settings for a session; the defaults suit a dedicated inspection machine.
struct ModelOptions {
  int intra_op_threads = 0;  // 0: ONNX Runtime decides (one per physical core)
  int inter_op_threads = 0;  // 0: ONNX Runtime decides
  GraphOptimization graph_optimization = GraphOptimization::kAll;
  // "cpu" (always there), "cuda", "tensorrt" or "openvino" (case-insensitive,
  // or ONNX Runtime's own name, "CUDAExecutionProvider"); a provider the
  // loaded ONNX Runtime does not offer is Error(kBackend) naming those it has.
  std::string execution_provider = "cpu";
  // Key/value options handed to the provider as ONNX Runtime documents them; only the
  // OpenVINO provider takes them here (e.g. "device_type" -> "GPU", "reshape_input" ->
  // "strip[1,4,976,176]"); any for another provider is Error(kInvalidArgument). After a
  // "reshape_input" the model takes only the shapes it gives (input_bounds.h): the provider
  // would read another shape as that one, so run() refuses it with Error(kInvalidArgument).
  std::map<std::string, std::string> provider_options;
  std::string onnxruntime_library;  // empty: default_onnxruntime_library()
};

// Parses "disable", "basic", "extended" or "all"; Error(kInvalidArgument) otherwise.
GraphOptimization parse_graph_optimization(const std::string& name);

// Name, shape and element type of a graph input or output.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;                 // -1 marks a dynamic dimension
  ElementType dtype = ElementType::kFloat32;  // kOther: a type defectkit does not pass
  std::vector<std::string> dimension_names;   // per axis: the graph's symbol ("batch"), "" if fixed or unnamed
};

// A float32 tensor the caller owns; the model reads it without copying.
struct TensorView {
  const float* data = nullptr;
  std::vector<int64_t> shape;
};

// A float32 buffer the caller owns and the model writes an output into.
struct MutableTensorView {
  float* data = nullptr;  // nullptr: this output is not computed
  std::vector<int64_t> shape;
};

// A float32 tensor the model returns; the caller owns it.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class Model {
 public:
  // Loads `path`, opening ONNX Runtime first if needed. Throws
  // Error(kFileNotFound) for a missing file, Error(kModel) for one ONNX
  // Runtime cannot load, Error(kBackend) when ONNX Runtime itself is missing.
  static Model load(const std::string& path, const ModelOptions& options = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& path() const;
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  // The file's metadata_props (custom metadata), key -> value.
  const std::map<std::string, std::string>& metadata() const;

  // Runs the graph with one float32 tensor per input, in inputs() order, and
  // returns every output as float32, in outputs() order. Throws
  // Error(kInvalidArgument) for a wrong count, rank or fixed dimension, and
  // Error(kBackend) when the run fails. Thread-safe: one Model may serve
  // several threads at once.
  std::vector<Tensor> run(const std::vector<TensorView>& inputs) const;

  // As run(), but writes each output into the caller's buffer, one view per
  // output in outputs() order, whose shape must be exactly the output's
  // (Error(kBackend) from ONNX Runtime otherwise); a view with a null data
  // pointer skips that output. Nothing is copied or allocated per output,
  // so buffers can be reused between runs. Thread-safe.
  void run_into(const std::vector<TensorView>& inputs, const std::vector<MutableTensorView>& outputs) const;

  // Runs the graph with one typed tensor per input, in inputs() order (each
  // of the input's element type), and returns every output with its own
  // element type, in outputs() order. Throws Error(kInvalidArgument) for a
  // wrong count, element type, rank, fixed dimension or a buffer smaller than
  // its shape, Error(kUnsupported) for a graph tensor of a type defectkit does
  // not pass, Error(kBackend) when the run fails. Thread-safe.
  std::vector<TypedTensor> run_typed(const std::vector<TypedTensorView>& inputs) const;

  // The ONNX Runtime execution provider the session was created with
  // ("CPUExecutionProvider", ...).
  const std::string& execution_provider() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace defectkit
