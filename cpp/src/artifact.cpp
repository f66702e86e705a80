#include "defectkit/artifact.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "defectkit/error.h"
#include "defectkit/model.h"
#include "defectkit/tiling.h"

namespace defectkit {
namespace {

using Json = nlohmann::json;
constexpr const char* kPrefix = "defectkit.";
constexpr int64_t kMaxImageSide = int64_t{1} << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// Reads the metadata of one file; every failure names the file and the key.
class MetadataReader {
 public:
  MetadataReader(const std::map<std::string, std::string>& metadata, const std::string& path)
      : metadata_(metadata), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorCode::kModel, path_ + ": " + what); }

  bool has(const std::string& key) const { return metadata_.count(kPrefix + key) != 0; }

  const std::string& text(const std::string& key) const {
    auto it = metadata_.find(kPrefix + key);
    if (it == metadata_.end()) fail("artifact metadata has no '" + std::string(kPrefix) + key + "'");
    return it->second;
  }

  Json json(const std::string& key) const {
    try {
      return Json::parse(text(key));
    } catch (const Json::exception& e) {
      fail(std::string(kPrefix) + key + " is not valid JSON: " + e.what());
    }
  }

  // A typed member of a JSON object; `where` is the key for messages. Numbers are range-checked
  // first: nlohmann's get<int>() / get<float>() static_cast out-of-range values, which is
  // undefined behaviour for floats (found by the metadata fuzzer: 1e300 as a tile position).
  template <typename T>
  T member(const Json& object, const std::string& where, const std::string& name) const {
    if (!object.is_object() || !object.contains(name)) fail(std::string(kPrefix) + where + " has no '" + name + "'");
    const Json& value = object.at(name);
    if (!fits<T>(value)) fail(std::string(kPrefix) + where + "." + name + " has the wrong type: " + value.dump());
    try {
      return value.get<T>();
    } catch (const Json::exception&) {
      fail(std::string(kPrefix) + where + "." + name + " has the wrong type: " + value.dump());
    }
  }

  template <typename T>
  static bool fits(const Json& value) {
    if constexpr (std::is_same_v<T, int>) {
      if (value.is_number_unsigned()) return value.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX);
      if (value.is_number_integer()) {
        const int64_t v = value.get<int64_t>();
        return v >= INT32_MIN && v <= INT32_MAX;
      }
      return false;  // floats, strings, ...: not an int
    } else if constexpr (std::is_same_v<T, float>) {
      return value.is_number() && std::isfinite(value.get<double>()) && std::fabs(value.get<double>()) <= FLT_MAX;
    } else if constexpr (std::is_same_v<T, std::vector<int>>) {
      return value.is_array() && std::all_of(value.begin(), value.end(), [](const Json& v) { return fits<int>(v); });
    } else {
      return true;  // strings and lists of strings: get<T>() checks the type itself
    }
  }

  template <typename T>
  T member_or(const Json& object, const std::string& where, const std::string& name, T fallback) const {
    if (!object.is_object() || !object.contains(name) || object.at(name).is_null()) return fallback;
    return member<T>(object, where, name);
  }

 private:
  const std::map<std::string, std::string>& metadata_;
  const std::string& path_;
};

int parse_format_version(const MetadataReader& r) {
  if (!r.has("format_version")) {
    r.fail("not a defectkit artifact: metadata has no 'defectkit.format_version' (export it with `defectkit export`)");
  }
  const std::string& text = r.text("format_version");
  int version = 0;
  try {
    size_t used = 0;
    version = std::stoi(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    r.fail("defectkit.format_version must be an integer, got '" + text + "'");
  }
  if (version > kArtifactFormatVersion) {
    r.fail("artifact format version " + std::to_string(version) + " is newer than this runtime reads (" +
           std::to_string(kArtifactFormatVersion) + "); upgrade defectkit");
  }
  if (version < 1) r.fail("defectkit.format_version must be >= 1, got " + text);
  return version;
}

GraphKind parse_graph(const MetadataReader& r) {
  const std::string& name = r.text("graph");
  if (name == "tiled") return GraphKind::kTiled;
  if (name == "full_frame") return GraphKind::kFullFrame;
  if (name == "patch") return GraphKind::kPatch;
  r.fail("unknown graph kind defectkit.graph='" + name + "' (expected tiled, full_frame or patch)");
}

InputSpec parse_input(const MetadataReader& r, GraphKind graph) {
  const Json j = r.json("input");
  InputSpec in;
  in.name = r.member<std::string>(j, "input", "name");
  in.layout = r.member<std::string>(j, "input", "layout");
  in.dtype = r.member<std::string>(j, "input", "dtype");
  in.scale = r.member<float>(j, "input", "scale");
  in.channels = r.member<std::vector<std::string>>(j, "input", "channels");
  in.accepted_channels = r.member_or<std::vector<int>>(j, "input", "accepted_channels", {3, 4});
  const auto fourth = r.member_or<std::string>(j, "input", "fourth_channel", "ignore");
  const std::string cannot = "this runtime cannot feed the artifact's input: ";
  if (in.layout != "NCHW") r.fail(cannot + "layout '" + in.layout + "' (only NCHW)");
  if (in.dtype != "float32") r.fail(cannot + "dtype '" + in.dtype + "' (only float32)");
  if (in.scale != 255.0f) {
    std::ostringstream scale;
    scale << in.scale;
    r.fail(cannot + "scale " + scale.str() + " (only the 0..255 scale)");
  }
  if (in.channels.size() != 3) r.fail(cannot + std::to_string(in.channels.size()) + " model channels (only 3)");
  if (in.accepted_channels.empty()) r.fail(cannot + "no accepted channel count");
  for (int c : in.accepted_channels) {
    if (c != 3 && c != 4) r.fail(cannot + "accepted channel count " + std::to_string(c) + " (strips have 3 or 4)");
  }
  const bool accepts4 = std::count(in.accepted_channels.begin(), in.accepted_channels.end(), 4) > 0;
  if (fourth == "ignore") {
    in.fourth_channel = FourthChannel::kIgnore;
  } else if (fourth == "roi") {
    in.fourth_channel = FourthChannel::kRoi;
    if (!accepts4) r.fail(cannot + "fourth_channel 'roi' but 4 is not an accepted channel count");
  } else {
    r.fail(cannot + "fourth_channel '" + fourth + "' (expected ignore or roi)");
  }
  if (graph == GraphKind::kPatch && in.name.empty()) r.fail("defectkit.input.name is empty");
  return in;
}

TilingSpec parse_tiling(const MetadataReader& r, const ArtifactInfo& info) {
  TilingSpec t;
  if (!r.has("tiling")) {
    if (info.graph == GraphKind::kPatch) r.fail("a patch artifact needs 'defectkit.tiling'");
    return t;
  }
  const Json j = r.json("tiling");
  t.mode = r.member_or<std::string>(j, "tiling", "mode", "");
  t.stitch = r.member_or<std::string>(j, "tiling", "stitch", "nearest_centre");
  if (t.stitch != "nearest_centre") r.fail("unknown stitch rule '" + t.stitch + "' (only nearest_centre)");
  if (info.graph != GraphKind::kPatch && (!j.contains("patch") || j.at("patch").is_null())) return t;
  t.patch = r.member<int>(j, "tiling", "patch");
  t.min_overlap = r.member<int>(j, "tiling", "min_overlap");
  t.positions_y = r.member_or<std::vector<int>>(j, "tiling", "positions_y", {});
  t.positions_x = r.member_or<std::vector<int>>(j, "tiling", "positions_x", {});
  if (t.patch < 1 || t.min_overlap < 0 || t.min_overlap >= t.patch) {
    r.fail("defectkit.tiling needs patch >= 1 and 0 <= min_overlap < patch, got patch " + std::to_string(t.patch) +
           ", min_overlap " + std::to_string(t.min_overlap));
  }
  // Written positions must be what the shared rule gives for image_size, or
  // the exporter and this runtime disagree on the rule.
  auto check = [&](const std::vector<int>& written, int length, const char* axis) {
    if (written.empty() || length < t.patch) return;
    if (written != positions_along(length, t.patch, 1, t.min_overlap)) {
      r.fail(std::string("defectkit.tiling.positions_") + axis + " disagrees with positions_along(" +
             std::to_string(length) + ", " + std::to_string(t.patch) + ", 1, " + std::to_string(t.min_overlap) + ")");
    }
  };
  check(t.positions_y, info.image_height, "y");
  check(t.positions_x, info.image_width, "x");
  return t;
}

ScoreSpec parse_score(const MetadataReader& r) {
  ScoreSpec s;
  if (!r.has("score")) return s;
  const Json j = r.json("score");
  s.reduction = r.member_or<std::string>(j, "score", "reduction", s.reduction);
  s.box = r.member_or<int>(j, "score", "box", s.box);
  s.border = r.member_or<std::string>(j, "score", "border", s.border);
  if (s.reduction != "box_mean_max") r.fail("unknown score reduction '" + s.reduction + "' (only box_mean_max)");
  if (s.box < 1 || s.box % 2 == 0)
    r.fail("defectkit.score.box must be a positive odd number, got " + std::to_string(s.box));
  if (s.border != "reflect") r.fail("unknown score border '" + s.border + "' (only reflect)");
  return s;
}

OutputSpec parse_outputs(const MetadataReader& r, GraphKind graph) {
  const Json j = r.json("outputs");
  OutputSpec o;
  const auto format = r.member_or<std::string>(j, "outputs", "format", "raw");
  if (format == "raw")
    o.format = OutputFormat::kRaw;
  else if (format == "seed3ch")
    o.format = OutputFormat::kSeed3ch;
  else
    r.fail("unknown output format '" + format + "' (expected raw or seed3ch)");
  o.heatmap = r.member<std::string>(j, "outputs", "heatmap");
  o.score = r.member_or<std::string>(j, "outputs", "score", "");
  if (graph == GraphKind::kPatch) o.score.clear();  // patch graphs are scored by the runtime
  return o;
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

ArtifactInfo parse_artifact_info(const std::map<std::string, std::string>& metadata, const std::string& path) {
  const MetadataReader r(metadata, path);
  ArtifactInfo info;
  info.format_version = parse_format_version(r);
  info.family = r.text("family");
  if (info.family != "reference_unet") {
    r.fail("unknown model family defectkit.family='" + info.family + "' (this runtime runs reference_unet)");
  }
  info.graph = parse_graph(r);
  info.input = parse_input(r, info.graph);
  const auto size = r.json("image_size");
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer() ||
      size[0].get<int64_t>() < 1 || size[1].get<int64_t>() < 1) {
    r.fail("defectkit.image_size must be [H, W] with positive integers, got " + size.dump());
  }
  // Found by the metadata fuzz harness: image_size [2000000000, 24] with a
  // 1-pixel patch made the tiling check allocate 8 GB of tile positions
  // while opening the artifact. No strip StripReader reads is larger than
  // this (4 channels x 2^26 pixels = its 2^28-value limit).
  if (size[0].get<int64_t>() > kMaxImageSide || size[1].get<int64_t>() > kMaxImageSide ||
      size[0].get<int64_t>() * size[1].get<int64_t>() > kMaxImagePixels) {
    r.fail("defectkit.image_size " + size.dump() + " is implausibly large (at most " + std::to_string(kMaxImageSide) +
           " pixels a side and " + std::to_string(kMaxImagePixels) + " pixels in all)");
  }
  info.image_height = size[0].get<int>();
  info.image_width = size[1].get<int>();
  info.tiling = parse_tiling(r, info);
  info.score = parse_score(r);
  info.outputs = parse_outputs(r, info.graph);
  const Json thresholds = r.json("thresholds");
  info.thresholds.image = r.member<float>(thresholds, "thresholds", "image");
  info.thresholds.pixel = r.member<float>(thresholds, "thresholds", "pixel");
  if (!std::isfinite(info.thresholds.image) || !std::isfinite(info.thresholds.pixel)) {
    r.fail("defectkit.thresholds must be finite numbers");
  }
  if (r.has("precision")) info.precision = r.text("precision");
  if (info.precision != "fp32" && info.precision != "int8") {
    r.fail("unknown precision '" + info.precision + "' (expected fp32 or int8)");
  }
  if (r.has("provenance")) info.provenance_json = r.text("provenance");
  return info;
}

ArtifactInfo read_artifact_info(const Model& model) {
  ArtifactInfo info = parse_artifact_info(model.metadata(), model.path());
  const MetadataReader r(model.metadata(), model.path());
  auto find = [](const std::vector<TensorInfo>& list, const std::string& name) -> const TensorInfo* {
    for (const auto& t : list) {
      if (t.name == name) return &t;
    }
    return nullptr;
  };
  const TensorInfo* input = find(model.inputs(), info.input.name);
  if (input == nullptr) r.fail("the graph has no input '" + info.input.name + "' named by defectkit.input");
  if (model.inputs().size() != 1) r.fail("an artifact graph takes exactly one input");
  if (input->shape.size() != 4) r.fail("input '" + input->name + "' must be 4-D (N, C, H, W)");
  const TensorInfo* heatmap = find(model.outputs(), info.outputs.heatmap);
  if (heatmap == nullptr) r.fail("the graph has no output '" + info.outputs.heatmap + "' named by defectkit.outputs");
  if (heatmap->shape.size() != 4) r.fail("output '" + heatmap->name + "' must be 4-D (N, 1 or 3, H, W)");
  if (!info.outputs.score.empty() && find(model.outputs(), info.outputs.score) == nullptr) {
    r.fail("the graph has no output '" + info.outputs.score + "' named by defectkit.outputs");
  }
  const int64_t c = input->shape[1];
  if (info.graph == GraphKind::kPatch) {
    if (c >= 0 && c != 3) r.fail("a patch graph's input must have 3 channels, the graph has " + std::to_string(c));
    for (int d = 2; d < 4; ++d) {
      if (input->shape[d] >= 0 && input->shape[d] != info.tiling.patch) {
        r.fail("the patch graph's input is " + std::to_string(input->shape[d]) +
               " pixels but defectkit.tiling.patch is " + std::to_string(info.tiling.patch));
      }
    }
  } else {
    if ((input->shape[2] >= 0 && input->shape[2] != info.image_height) ||
        (input->shape[3] >= 0 && input->shape[3] != info.image_width)) {
      r.fail("the graph's input size disagrees with defectkit.image_size");
    }
    if (c >= 0 && std::count(info.input.accepted_channels.begin(), info.input.accepted_channels.end(), c) == 0 &&
        !(c == 3 && info.input.fourth_channel == FourthChannel::kIgnore)) {
      r.fail("the graph takes " + std::to_string(c) + " channels, not among defectkit.input.accepted_channels");
    }
  }
  return info;
}

}  // namespace defectkit
