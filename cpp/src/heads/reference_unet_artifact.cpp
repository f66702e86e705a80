// The reference_unet head's artifact info (artifact.h): its family section
// and tensor specs, read from ArtifactMetadata of format 2 or format 1.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "defectkit/artifact.h"
#include "defectkit/error.h"
#include "defectkit/model.h"
#include "defectkit/tiling.h"
#include "metadata_json.h"

namespace defectkit {
namespace {

using detail::brief;
using detail::Json;
using detail::JsonFields;

constexpr int64_t kMaxImageSide = int64_t{1} << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// The key a family-section field is read from, for messages: format 2 keeps
// them under defectkit.family_section; format 1 had them as keys of its own.
class SectionKeys {
 public:
  explicit SectionKeys(int format_version) : v1_(format_version == 1) {}

  std::string operator()(const std::string& field) const {
    if (!v1_) return "defectkit.family_section." + field;
    if (field == "channels" || field == "accepted_channels" || field == "fourth_channel") {
      return "defectkit.input." + field;
    }
    if (field == "output_format") return "defectkit.outputs.format";
    if (field == "heatmap_output") return "defectkit.outputs.heatmap";
    if (field == "score_output") return "defectkit.outputs.score";
    return "defectkit." + field;
  }

 private:
  bool v1_;
};

struct Reader {
  JsonFields r;
  SectionKeys key;
  Json section;

  template <typename T>
  T field(const std::string& name) const {
    return r.member<T>(section, name, key(name));
  }
  template <typename T>
  T field_or(const std::string& name, T fallback) const {
    return r.member_or<T>(section, name, key(name), fallback);
  }
  bool has(const std::string& name) const { return section.contains(name) && !section.at(name).is_null(); }
};

GraphKind parse_graph(const Reader& s) {
  const auto name = s.field<std::string>("graph");
  if (name == "tiled") return GraphKind::kTiled;
  if (name == "full_frame") return GraphKind::kFullFrame;
  if (name == "patch") return GraphKind::kPatch;
  s.r.fail("unknown graph kind " + s.key("graph") + "='" + name + "' (expected tiled, full_frame or patch)");
}

InputSpec parse_input(const Reader& s, const ArtifactMetadata& m) {
  if (m.inputs.size() != 1) s.r.fail("an artifact graph takes exactly one input");
  const TensorSpec& spec = m.inputs[0];
  InputSpec in;
  in.name = spec.name;
  in.layout = spec.layout;
  in.dtype = element_type_name(spec.dtype);
  const std::string cannot = "this runtime cannot feed the artifact's input: ";
  if (in.layout != "NCHW") s.r.fail(cannot + "layout '" + in.layout + "' (only NCHW)");
  if (spec.dtype != ElementType::kFloat32) s.r.fail(cannot + "dtype '" + in.dtype + "' (only float32)");
  if (!spec.scale) s.r.fail(cannot + "no scale (only the 0..255 scale)");
  in.scale = *spec.scale;
  if (in.scale != 255.0f) {
    std::ostringstream scale;
    scale << in.scale;
    s.r.fail(cannot + "scale " + scale.str() + " (only the 0..255 scale)");
  }
  in.channels = s.field<std::vector<std::string>>("channels");
  in.accepted_channels = s.field_or<std::vector<int>>("accepted_channels", {3, 4});
  const auto fourth = s.field_or<std::string>("fourth_channel", "ignore");
  if (in.channels.size() != 3) s.r.fail(cannot + std::to_string(in.channels.size()) + " model channels (only 3)");
  if (in.accepted_channels.empty()) s.r.fail(cannot + "no accepted channel count");
  for (int c : in.accepted_channels) {
    if (c != 3 && c != 4) s.r.fail(cannot + "accepted channel count " + std::to_string(c) + " (strips have 3 or 4)");
  }
  const bool accepts4 = std::count(in.accepted_channels.begin(), in.accepted_channels.end(), 4) > 0;
  if (fourth == "ignore") {
    in.fourth_channel = FourthChannel::kIgnore;
  } else if (fourth == "roi") {
    in.fourth_channel = FourthChannel::kRoi;
    if (!accepts4) s.r.fail(cannot + "fourth_channel 'roi' but 4 is not an accepted channel count");
  } else {
    s.r.fail(cannot + "fourth_channel '" + fourth + "' (expected ignore or roi)");
  }
  return in;
}

void parse_image_size(const Reader& s, ArtifactInfo& info) {
  if (!s.section.contains("image_size")) s.r.fail("defectkit.family_section has no 'image_size'");
  const Json& size = s.section.at("image_size");
  const std::string key = s.key("image_size");
  if (!size.is_array() || size.size() != 2 || !JsonFields::fits<int64_t>(size[0]) ||
      !JsonFields::fits<int64_t>(size[1]) || size[0].get<int64_t>() < 1 || size[1].get<int64_t>() < 1) {
    s.r.fail(key + " must be [H, W] with positive integers, got " + brief(size));
  }
  // Found by the metadata fuzz harness: image_size [2000000000, 24] with a
  // 1-pixel patch made the tiling check allocate 8 GB of tile positions
  // while opening the artifact. No strip StripReader reads is larger than
  // this (4 channels x 2^26 pixels = its 2^28-value limit).
  const int64_t h = size[0].get<int64_t>(), w = size[1].get<int64_t>();
  if (h > kMaxImageSide || w > kMaxImageSide || h * w > kMaxImagePixels) {
    s.r.fail(key + " " + brief(size) + " is implausibly large (at most " + std::to_string(kMaxImageSide) +
             " pixels a side and " + std::to_string(kMaxImagePixels) + " pixels in all)");
  }
  info.image_height = static_cast<int>(h);
  info.image_width = static_cast<int>(w);
}

TilingSpec parse_tiling(const Reader& s, const ArtifactInfo& info) {
  TilingSpec t;
  const std::string key = s.key("tiling");
  if (!s.has("tiling")) {
    if (info.graph == GraphKind::kPatch) s.r.fail("a patch artifact needs '" + key + "'");
    return t;
  }
  const Json& j = s.section.at("tiling");
  t.mode = s.r.member_or<std::string>(j, "mode", key + ".mode", "");
  t.stitch = s.r.member_or<std::string>(j, "stitch", key + ".stitch", "nearest_centre");
  if (t.stitch != "nearest_centre") s.r.fail("unknown stitch rule '" + t.stitch + "' (only nearest_centre)");
  if (info.graph != GraphKind::kPatch && (!j.contains("patch") || j.at("patch").is_null())) return t;
  t.patch = s.r.member<int>(j, "patch", key + ".patch");
  t.min_overlap = s.r.member<int>(j, "min_overlap", key + ".min_overlap");
  t.positions_y = s.r.member_or<std::vector<int>>(j, "positions_y", key + ".positions_y", {});
  t.positions_x = s.r.member_or<std::vector<int>>(j, "positions_x", key + ".positions_x", {});
  if (t.patch < 1 || t.min_overlap < 0 || t.min_overlap >= t.patch) {
    s.r.fail(key + " needs patch >= 1 and 0 <= min_overlap < patch, got patch " + std::to_string(t.patch) +
             ", min_overlap " + std::to_string(t.min_overlap));
  }
  // Written positions must be what the shared rule gives for image_size, or
  // the exporter and this runtime disagree on the rule.
  auto check = [&](const std::vector<int>& written, int length, const char* axis) {
    if (written.empty() || length < t.patch) return;
    if (written != positions_along(length, t.patch, 1, t.min_overlap)) {
      s.r.fail(key + ".positions_" + axis + " disagrees with positions_along(" + std::to_string(length) + ", " +
               std::to_string(t.patch) + ", 1, " + std::to_string(t.min_overlap) + ")");
    }
  };
  check(t.positions_y, info.image_height, "y");
  check(t.positions_x, info.image_width, "x");
  return t;
}

ScoreSpec parse_score(const Reader& s) {
  ScoreSpec out;
  if (!s.has("score")) return out;
  const Json& j = s.section.at("score");
  const std::string key = s.key("score");
  out.reduction = s.r.member_or<std::string>(j, "reduction", key + ".reduction", out.reduction);
  out.box = s.r.member_or<int>(j, "box", key + ".box", out.box);
  out.border = s.r.member_or<std::string>(j, "border", key + ".border", out.border);
  if (out.reduction != "box_mean_max") s.r.fail("unknown score reduction '" + out.reduction + "' (only box_mean_max)");
  if (out.box < 1 || out.box % 2 == 0) {
    s.r.fail(key + ".box must be a positive odd number, got " + std::to_string(out.box));
  }
  if (out.border != "reflect") s.r.fail("unknown score border '" + out.border + "' (only reflect)");
  return out;
}

// Format 2 names the outputs `heatmap` and `score`; heatmap_output and
// score_output (format 1's outputs.heatmap and outputs.score) may rename them.
OutputSpec parse_outputs(const Reader& s, const ArtifactMetadata& m, GraphKind graph) {
  OutputSpec o;
  const auto format = s.field_or<std::string>("output_format", "raw");
  if (format == "raw")
    o.format = OutputFormat::kRaw;
  else if (format == "seed3ch")
    o.format = OutputFormat::kSeed3ch;
  else
    s.r.fail("unknown output format '" + format + "' (expected raw or seed3ch)");
  o.heatmap = s.field_or<std::string>("heatmap_output", "heatmap");
  if (s.section.contains("score_output"))
    o.score = s.field_or<std::string>("score_output", "");
  else if (m.find_output("score") != nullptr)
    o.score = "score";
  if (graph == GraphKind::kPatch) o.score.clear();  // patch graphs are scored by the runtime
  return o;
}

// The tensors against the family section, once their shapes are known.
void check_tensors(const Reader& s, const ArtifactInfo& info, const ArtifactMetadata& m) {
  const JsonFields& r = s.r;
  const TensorSpec& input = m.inputs[0];
  if (input.shape.size() != 4) r.fail("input '" + input.name + "' must be 4-D (N, C, H, W)");
  const TensorSpec* heatmap = m.find_output(info.outputs.heatmap);
  if (heatmap == nullptr) r.fail("the graph has no output '" + info.outputs.heatmap + "'");
  if (heatmap->shape.size() != 4) r.fail("output '" + heatmap->name + "' must be 4-D (N, 1 or 3, H, W)");
  if (!info.outputs.score.empty() && m.find_output(info.outputs.score) == nullptr) {
    r.fail("the graph has no output '" + info.outputs.score + "' named by " + s.key("score_output"));
  }
  const int64_t c = input.shape[1].size;
  if (info.graph == GraphKind::kPatch) {
    if (c >= 0 && c != 3) r.fail("a patch graph's input must have 3 channels, the graph has " + std::to_string(c));
    for (int d = 2; d < 4; ++d) {
      const int64_t side = input.shape[d].size;
      if (side >= 0 && side != info.tiling.patch) {
        r.fail("the patch graph's input is " + std::to_string(side) + " pixels but " + s.key("tiling") + ".patch is " +
               std::to_string(info.tiling.patch));
      }
    }
  } else {
    const int64_t h = input.shape[2].size, w = input.shape[3].size;
    if ((h >= 0 && h != info.image_height) || (w >= 0 && w != info.image_width)) {
      r.fail("the graph's input size disagrees with " + s.key("image_size"));
    }
    const auto& accepted = info.input.accepted_channels;
    if (c >= 0 && std::count(accepted.begin(), accepted.end(), c) == 0 &&
        !(c == 3 && info.input.fourth_channel == FourthChannel::kIgnore)) {
      r.fail("the graph takes " + std::to_string(c) + " channels, not among " + s.key("accepted_channels"));
    }
  }
}

}  // namespace

const char* graph_kind_name(GraphKind kind) noexcept {
  switch (kind) {
    case GraphKind::kTiled:
      return "tiled";
    case GraphKind::kFullFrame:
      return "full_frame";
    case GraphKind::kPatch:
      return "patch";
  }
  return "unknown";
}

ArtifactInfo artifact_info_from(const ArtifactMetadata& m, const std::string& path) {
  Reader s{JsonFields(path), SectionKeys(m.format_version), Json()};
  if (m.family != "reference_unet") {
    s.r.fail("a " + m.family +
             " artifact; defectkit::Inspector runs reference_unet artifacts, ArtifactSession runs any");
  }
  try {
    s.section = Json::parse(m.family_json);
  } catch (const Json::exception& e) {
    s.r.fail(std::string("defectkit.family_section is not valid JSON: ") + e.what());
  }
  if (!s.section.is_object()) s.r.fail("defectkit.family_section must be a JSON object, got " + brief(s.section));
  ArtifactInfo info;
  info.format_version = m.format_version;
  info.family = m.family;
  info.precision = m.precision;
  info.provenance_json = m.provenance_json;
  info.graph = parse_graph(s);
  info.input = parse_input(s, m);
  parse_image_size(s, info);
  info.tiling = parse_tiling(s, info);
  info.score = parse_score(s);
  info.outputs = parse_outputs(s, m, info.graph);
  auto threshold = [&](const std::string& name) {
    const auto found = m.thresholds.find(name);
    if (found == m.thresholds.end()) s.r.fail("defectkit.thresholds has no '" + name + "'");
    return found->second;
  };
  info.thresholds.image = threshold("image");
  info.thresholds.pixel = threshold("pixel");
  if (m.format_version >= 2 || m.graph_checked) check_tensors(s, info, m);
  info.metadata = m;
  return info;
}

ArtifactInfo parse_artifact_info(const std::map<std::string, std::string>& metadata, const std::string& path) {
  return artifact_info_from(parse_artifact_metadata(metadata, path), path);
}

ArtifactInfo read_artifact_info(const Model& model) {
  return artifact_info_from(read_artifact_metadata(model), model.path());
}

}  // namespace defectkit
