// The reference_unet head: defectkit::Inspector (inspector.h) over the
// generic ArtifactSession. Strip in (StripReader or the caller's buffer),
// tiling and batching for patch graphs, the session's model run into pooled
// buffers, stitching, scoring, thresholds and regions out.
#include <algorithm>
#include <mutex>

#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/integrity.h"
#include "defectkit/strip_reader.h"
#include "defectkit/tiling.h"
#include "strip_view.h"

namespace defectkit {
namespace {

// Buffers one inspection needs; pooled so a steady stream of strips of one
// size allocates nothing after the first, whatever the number of threads.
struct Workspace {
  std::vector<float> input;   // converted strip or a batch of tiles
  std::vector<float> output;  // heatmap output(s) of the graph
  float score = 0.0f;
};

}  // namespace

struct Inspector::Impl {
  ArtifactSession session;
  const Model& model;  // the session's
  ArtifactInfo info;
  InspectorOptions options;
  int64_t graph_channels = -1;  // full-image graphs: the input's C, -1 when dynamic
  int64_t graph_batch = -1;     // the input's N, -1 when dynamic
  int heatmap_channels = 1;     // 3 for seed3ch
  size_t heatmap_output = 0, score_output = 0;
  bool has_score_output = false;

  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<Workspace>> pool;

  explicit Impl(ArtifactSession s) : session(std::move(s)), model(session.model()) {}

  std::unique_ptr<Workspace> acquire() const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (pool.empty()) return std::make_unique<Workspace>();
    auto ws = std::move(pool.back());
    pool.pop_back();
    return ws;
  }
  void release(std::unique_ptr<Workspace> ws) const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    pool.push_back(std::move(ws));
  }

  std::vector<MutableTensorView> output_views() const { return std::vector<MutableTensorView>(model.outputs().size()); }
  void run_full_image(const StripView& s, const std::string& source, Workspace& ws, float* heatmap) const;
  void run_patches(const StripView& s, const std::string& source, Workspace& ws, float* heatmap) const;
  void inspect(const StripView& s, const std::string& source, Inspection& out, const InspectOptions& opts) const;
};

// tiled / full_frame: the whole strip in one run at the artifact's size.
void Inspector::Impl::run_full_image(const StripView& s, const std::string& source, Workspace& ws,
                                     float* heatmap) const {
  if (s.height != info.image_height || s.width != info.image_width) {
    throw Error(ErrorCode::kInvalidArgument,
                source + ": strip is " + std::to_string(s.height) + " x " + std::to_string(s.width) + " but this " +
                    graph_kind_name(info.graph) + " artifact takes exactly " + std::to_string(info.image_height) +
                    " x " + std::to_string(info.image_width) + " (H x W); a patch artifact takes any size");
  }
  const auto& accepted = info.input.accepted_channels;
  int64_t channels = graph_channels;
  if (channels < 0) channels = std::count(accepted.begin(), accepted.end(), s.channels) ? s.channels : 3;
  if (s.channels < channels) {
    throw Error(ErrorCode::kInvalidArgument, source + ": the artifact takes " + std::to_string(channels) +
                                                 "-channel strips, this one has " + std::to_string(s.channels));
  }
  const size_t plane = static_cast<size_t>(s.height) * s.width;
  const float* input = nullptr;
  if (s.dtype == DType::kFloat32 && s.layout == Layout::kCHW) {
    input = static_cast<const float*>(s.data);  // the first `channels` planes are the model input as they are
  } else {
    ws.input.resize(static_cast<size_t>(channels) * plane);
    detail::copy_window(s, static_cast<int>(channels), 0, 0, s.height, s.width, ws.input.data());
    input = ws.input.data();
  }
  auto outputs = output_views();
  float* heatmap_buffer = heatmap;  // raw heatmaps land directly in the result
  if (heatmap_channels != 1) {
    ws.output.resize(heatmap_channels * plane);
    heatmap_buffer = ws.output.data();
  }
  outputs[heatmap_output] = {heatmap_buffer, {1, heatmap_channels, s.height, s.width}};
  if (has_score_output) outputs[score_output] = {&ws.score, {1}};
  model.run_into({{input, {1, channels, s.height, s.width}}}, outputs);
  if (heatmap_buffer != heatmap) std::copy(heatmap_buffer, heatmap_buffer + plane, heatmap);  // seed3ch: channel 0
}

// patch: tiles at positions_along, runs of at most max_batch, nearest-centre stitching.
void Inspector::Impl::run_patches(const StripView& s, const std::string& source, Workspace& ws, float* heatmap) const {
  const int p = info.tiling.patch;
  if (s.height < p || s.width < p) {
    throw Error(ErrorCode::kInvalidArgument, source + ": strip is " + std::to_string(s.height) + " x " +
                                                 std::to_string(s.width) + ", smaller than one " + std::to_string(p) +
                                                 " x " + std::to_string(p) + " patch");
  }
  const std::vector<int> ys = positions_along(s.height, p, 1, info.tiling.min_overlap);
  const std::vector<int> xs = positions_along(s.width, p, 1, info.tiling.min_overlap);
  const size_t tiles = ys.size() * xs.size();
  // A graph with a fixed batch takes exactly that many tiles per run; the
  // last run is padded with zero tiles whose outputs are never read.
  const size_t batch = graph_batch > 0 ? static_cast<size_t>(graph_batch)
                                       : std::min(tiles, static_cast<size_t>(std::max(1, options.max_batch)));
  const size_t runs = (tiles + batch - 1) / batch;
  const size_t tile_in = 3 * static_cast<size_t>(p) * p, tile_out = heatmap_channels * static_cast<size_t>(p) * p;
  ws.input.resize(batch * tile_in);
  ws.output.resize(runs * batch * tile_out);
  for (size_t run = 0; run < runs; ++run) {
    const size_t first = run * batch, count = std::min(batch, tiles - first);
    for (size_t k = 0; k < count; ++k) {
      const size_t t = first + k;
      detail::copy_window(s, 3, ys[t / xs.size()], xs[t % xs.size()], p, p, ws.input.data() + k * tile_in);
    }
    const size_t fed = graph_batch > 0 ? batch : count;
    std::fill(ws.input.begin() + count * tile_in, ws.input.begin() + fed * tile_in, 0.0f);
    auto outputs = output_views();
    outputs[heatmap_output] = {ws.output.data() + first * tile_out,
                               {static_cast<int64_t>(fed), heatmap_channels, p, p}};
    model.run_into({{ws.input.data(), {static_cast<int64_t>(fed), 3, p, p}}}, outputs);
  }
  stitch_nearest_centre(ws.output.data(), tile_out, p, ys, xs, s.height, s.width, heatmap);
}

void Inspector::Impl::inspect(const StripView& s, const std::string& source, Inspection& out,
                              const InspectOptions& opts) const {
  detail::validate_strip(s, source);
  const bool artifact_roi = info.input.fourth_channel == FourthChannel::kRoi;
  const bool roi = opts.roi || artifact_roi;
  if (roi && s.channels != 4) {
    throw Error(ErrorCode::kInvalidArgument,
                source +
                    (artifact_roi ? ": the artifact was exported with an ROI channel and needs 4-channel strips"
                                  : ": ROI masking needs a 4-channel strip") +
                    ", this one has " + std::to_string(s.channels));
  }
  detail::check_finite(s, source);

  out.height = s.height;
  out.width = s.width;
  out.heatmap.resize(static_cast<size_t>(s.height) * s.width);
  auto ws = acquire();
  try {
    if (info.graph == GraphKind::kPatch)
      run_patches(s, source, *ws, out.heatmap.data());
    else
      run_full_image(s, source, *ws, out.heatmap.data());
  } catch (...) {
    release(std::move(ws));
    throw;
  }
  const float graph_score = ws->score;
  release(std::move(ws));

  if (roi) detail::zero_outside_roi(s, out.heatmap.data());
  // The graph's score holds unless the runtime masked what the graph did not.
  const bool graph_score_valid = has_score_output && (artifact_roi || !opts.roi);
  out.score = graph_score_valid ? graph_score : box_mean_max(out.heatmap.data(), s.height, s.width, info.score.box);
  out.image_threshold = opts.image_threshold.value_or(info.thresholds.image);
  out.pixel_threshold = opts.pixel_threshold.value_or(info.thresholds.pixel);
  out.is_defective = out.score >= out.image_threshold;
  out.regions = find_regions(out.heatmap.data(), s.height, s.width, out.pixel_threshold);
}

Inspector::Inspector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Inspector::Inspector(Inspector&&) noexcept = default;
Inspector& Inspector::operator=(Inspector&&) noexcept = default;
Inspector::~Inspector() = default;

Inspector Inspector::open(const std::string& path, const InspectorOptions& options) {
  // Hashed, then loaded by path: a file swapped in between is not caught; the
  // check is against corruption in transit or on disk, not a local attacker.
  if (options.verify || !options.expected_sha256.empty()) verify_sha256(path, options.expected_sha256);
  auto impl = std::make_unique<Impl>(ArtifactSession::open(path, options.model));
  impl->options = options;
  impl->info = artifact_info_from(impl->session.metadata(), path);
  const Model& m = impl->model;
  for (size_t i = 0; i < m.outputs().size(); ++i) {
    if (m.outputs()[i].name == impl->info.outputs.heatmap) impl->heatmap_output = i;
    if (m.outputs()[i].name == impl->info.outputs.score) {
      impl->score_output = i;
      impl->has_score_output = true;
    }
  }
  const auto& input = m.inputs()[0].shape;  // artifact_info_from checked: one 4-D input
  impl->graph_batch = input[0];
  impl->graph_channels = input[1];
  impl->heatmap_channels = impl->info.outputs.format == OutputFormat::kSeed3ch ? 3 : 1;
  return Inspector(std::move(impl));
}

const ArtifactInfo& Inspector::info() const { return impl_->info; }
const Model& Inspector::model() const { return impl_->model; }

Inspection Inspector::inspect(const std::string& path, const InspectOptions& options) const {
  const StripTensor strip = StripReader().read(path);
  StripView view;
  view.data = strip.data.data();
  view.size_bytes = strip.data.size() * sizeof(float);
  view.channels = strip.channels;
  view.height = strip.height;
  view.width = strip.width;
  Inspection out;
  impl_->inspect(view, path, out, options);
  return out;
}

Inspection Inspector::inspect(const StripView& strip, const InspectOptions& options) const {
  Inspection out;
  impl_->inspect(strip, "strip buffer", out, options);
  return out;
}

void Inspector::inspect_into(const StripView& strip, Inspection& out, const InspectOptions& options) const {
  impl_->inspect(strip, "strip buffer", out, options);
}

std::vector<Inspection> Inspector::inspect_batch(const std::vector<std::string>& paths,
                                                 const InspectOptions& options) const {
  std::vector<Inspection> results;
  results.reserve(paths.size());
  for (const auto& path : paths) results.push_back(inspect(path, options));
  return results;
}

std::vector<Inspection> Inspector::inspect_batch(const std::vector<StripView>& strips,
                                                 const InspectOptions& options) const {
  std::vector<Inspection> results;
  results.reserve(strips.size());
  for (const auto& strip : strips) results.push_back(inspect(strip, options));
  return results;
}

}  // namespace defectkit
