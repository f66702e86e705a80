// defectkit::ArtifactSession — any defectkit artifact, whatever its family:
// the Model, its metadata typed and checked against the graph, and a run
// with named, typed tensors in and out. Family heads (the strip Inspector,
// ...) add their pre- and post-processing on top of it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "defectkit/artifact_metadata.h"
#include "defectkit/model.h"
#include "defectkit/tensor.h"

namespace defectkit {

class ArtifactSession {
 public:
  // Loads the artifact at `path`, parses its metadata (format 1 or 2, any
  // family) and checks it against the graph. Throws Error(kFileNotFound)
  // for a missing file, Error(kModel) for an unusable artifact or metadata,
  // Error(kBackend) when ONNX Runtime is missing, each naming the file.
  static ArtifactSession open(const std::string& path, const ModelOptions& options = {});

  ArtifactSession(ArtifactSession&&) noexcept;
  ArtifactSession& operator=(ArtifactSession&&) noexcept;
  ~ArtifactSession();

  const std::string& path() const;
  // Checked against the graph: specs one per graph tensor, in its order.
  const ArtifactMetadata& metadata() const;
  const Model& model() const;

  // Runs the graph: one tensor per input spec, by name, in any order, each of
  // the spec's dtype, rank and fixed sizes (symbolic axes take any size > 0);
  // returns every output by name, typed as the graph makes it. The inputs are
  // read in place, never kept. Throws Error(kInvalidArgument) naming the
  // input for a missing, unknown, mistyped or misshaped one (or a buffer
  // smaller than its shape), Error(kBackend) when the run fails. Thread-safe.
  std::map<std::string, TypedTensor> run(const std::map<std::string, TypedTensorView>& inputs) const;

 private:
  struct Impl;
  explicit ArtifactSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Opens the artifact's graph (no optimisation, one thread: a quick load) and
// returns its metadata checked against it, as ArtifactSession::open would.
// Throws what open() throws, except that an INT8 file this CPU would compute
// wrongly (int8_weights.h) is described, not refused: open() refuses it.
// Thread-safe.
ArtifactMetadata read_artifact_metadata(const std::string& path, const ModelOptions& options = {});

}  // namespace defectkit
