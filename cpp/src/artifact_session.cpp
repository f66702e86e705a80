#include "defectkit/artifact_session.h"

#include "defectkit/error.h"

namespace defectkit {
namespace {

std::string names_of(const std::vector<TensorSpec>& specs) {
  std::string out;
  for (const auto& s : specs) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + std::to_string(shape[d]);
  return out + ")";
}

// Whether `shape` fits `spec`: same rank, fixed axes equal, symbolic axes > 0.
bool fits(const TensorSpec& spec, const std::vector<int64_t>& shape) {
  if (shape.size() != spec.shape.size()) return false;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] <= 0 || (spec.shape[d].is_fixed() && spec.shape[d].size != shape[d])) return false;
  }
  return true;
}

}  // namespace

struct ArtifactSession::Impl {
  Model model;
  ArtifactMetadata metadata;

  explicit Impl(Model m) : model(std::move(m)) {}

  [[noreturn]] void invalid(const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument, model.path() + ": " + what);
  }

  // The caller's named views in the graph's input order, each checked against its spec.
  std::vector<TypedTensorView> in_graph_order(const std::map<std::string, TypedTensorView>& inputs) const;
};

std::vector<TypedTensorView> ArtifactSession::Impl::in_graph_order(
    const std::map<std::string, TypedTensorView>& inputs) const {
  for (const auto& [name, view] : inputs) {
    if (metadata.find_input(name) == nullptr) {
      invalid("the artifact has no input '" + name + "' (its inputs: " + names_of(metadata.inputs) + ")");
    }
  }
  std::vector<TypedTensorView> ordered;
  ordered.reserve(metadata.inputs.size());
  for (const TensorSpec& spec : metadata.inputs) {
    const auto found = inputs.find(spec.name);
    if (found == inputs.end()) {
      invalid("input '" + spec.name + "' is missing (the artifact takes: " + names_of(metadata.inputs) + ")");
    }
    const TypedTensorView& view = found->second;
    if (view.dtype != spec.dtype) {
      invalid("input '" + spec.name + "' is " + element_type_name(view.dtype) + " but the artifact takes " +
              element_type_name(spec.dtype));
    }
    if (!fits(spec, view.shape)) {
      invalid("input '" + spec.name + "' has shape " + shape_string(view.shape) + " but the artifact takes " +
              defectkit::shape_string(spec.shape));
    }
    if (view.data == nullptr) invalid("input '" + spec.name + "' has no data");
    ordered.push_back(view);
  }
  return ordered;
}

ArtifactSession::ArtifactSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArtifactSession::ArtifactSession(ArtifactSession&&) noexcept = default;
ArtifactSession& ArtifactSession::operator=(ArtifactSession&&) noexcept = default;
ArtifactSession::~ArtifactSession() = default;

ArtifactSession ArtifactSession::open(const std::string& path, const ModelOptions& options) {
  auto impl = std::make_unique<Impl>(Model::load(path, options));
  impl->metadata = read_artifact_metadata(impl->model);
  return ArtifactSession(std::move(impl));
}

const std::string& ArtifactSession::path() const { return impl_->model.path(); }
const ArtifactMetadata& ArtifactSession::metadata() const { return impl_->metadata; }
const Model& ArtifactSession::model() const { return impl_->model; }

std::map<std::string, TypedTensor> ArtifactSession::run(const std::map<std::string, TypedTensorView>& inputs) const {
  const Impl& s = *impl_;
  std::vector<TypedTensor> results = s.model.run_typed(s.in_graph_order(inputs));
  std::map<std::string, TypedTensor> outputs;
  for (size_t i = 0; i < results.size(); ++i) outputs[s.model.outputs()[i].name] = std::move(results[i]);
  return outputs;
}

ArtifactMetadata read_artifact_metadata(const std::string& path, const ModelOptions& options) {
  ModelOptions quick = options;
  quick.graph_optimization = GraphOptimization::kDisable;
  quick.intra_op_threads = 1;
  quick.inter_op_threads = 1;
  const Model model = Model::load(path, quick);
  // What the file is, without the INT8-weights refusal of read_artifact_metadata(const Model&):
  // that is about running it here (ArtifactSession::open), and a CPU that may not run an 8-bit
  // file can still say what it holds, e.g. its int8_weight_bits.
  ArtifactMetadata metadata = parse_artifact_metadata(model.metadata(), model.path());
  validate_against_graph(metadata, model.inputs(), model.outputs(), model.path());
  return metadata;
}

}  // namespace defectkit
