// defectkit::Model — one ONNX Runtime session over an ONNX file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace defectkit {

// Settings for a session; the defaults suit a dedicated inspection machine.
struct ModelOptions {
  int intra_op_threads = 0;          // 0: ONNX Runtime decides (one per physical core)
  int inter_op_threads = 0;          // 0: ONNX Runtime decides
  std::string onnxruntime_library;   // empty: default_onnxruntime_library()
};

// Name and shape of a graph input or output; -1 marks a dynamic dimension.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
};

// A float32 tensor the caller owns; the model reads it without copying.
struct TensorView {
  const float* data = nullptr;
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

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace defectkit
