#include "artifact_fixtures.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "defectkit/tiling.h"
#include "onnx_builder.h"

namespace defectkit::testing {
namespace {

std::string json_ints(const std::vector<int>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

OnnxInitializer ints(const std::string& name, std::vector<int64_t> values) {
  return {name, {static_cast<int64_t>(values.size())}, {}, values};
}
OnnxInitializer scalar(const std::string& name, float value) { return {name, {}, {value}, {}}; }

// (N, 1, H, W) slice of channel `c` of `input`.
OnnxNode channel(const std::string& input, int c, const std::string& out) {
  return {"Slice", {input, "start" + std::to_string(c), "end" + std::to_string(c), "axis1"}, {out}, {}};
}

OnnxGraph patch_graph(const ArtifactSpec& s) {
  OnnxGraph g;
  const int64_t n = s.fixed_batch > 0 ? s.fixed_batch : -1;
  g.inputs = {{"patch", {n, 3, s.patch, s.patch}}};
  g.initializers = {ints("start0", {0}),
                    ints("end0", {1}),
                    ints("start1", {1}),
                    ints("end1", {2}),
                    ints("axis1", {1}),
                    scalar("half_per_255", 0.5f / 255.0f),
                    scalar("per_255", 1.0f / 255.0f)};
  g.nodes.push_back(channel("patch", 0, "target"));
  if (s.tile_dependent) {
    g.nodes.push_back(channel("patch", 1, "ref1"));
    g.nodes.push_back({"ReduceMean", {"ref1"}, {"ref1_mean"}, {OnnxAttribute::integers("axes", {2, 3})}});
    g.nodes.push_back({"Mul", {"target", "half_per_255"}, {"a"}, {}});
    g.nodes.push_back({"Mul", {"ref1_mean", "half_per_255"}, {"b"}, {}});
    g.nodes.push_back({"Add", {"a", "b"}, {"map"}, {}});
  } else {
    g.nodes.push_back({"Mul", {"target", "per_255"}, {"map"}, {}});
  }
  return g;
}

OnnxGraph full_image_graph(const ArtifactSpec& s) {
  OnnxGraph g;
  g.inputs = {{"strip", {-1, -1, s.height, s.width}}};
  g.initializers = {ints("start0", {0}), ints("end0", {1}), ints("axis1", {1}), scalar("per_255", 1.0f / 255.0f)};
  g.nodes.push_back(channel("strip", 0, "target"));
  g.nodes.push_back({"Mul", {"target", "per_255"}, {"map"}, {}});
  return g;
}

std::map<std::string, std::string> metadata_v1(const ArtifactSpec& s) {
  const bool patch = s.graph == "patch";
  std::map<std::string, std::string> m;
  m["format_version"] = "1";
  m["family"] = "reference_unet";
  m["graph"] = s.graph;
  m["input"] = std::string("{\"name\": \"") + (patch ? "patch" : "strip") +
               "\", \"layout\": \"NCHW\", \"dtype\": \"float32\", \"scale\": 255.0, "
               "\"channels\": [\"target\", \"ref1\", \"ref2\"], \"accepted_channels\": " +
               (s.roi ? "[4]" : "[3, 4]") + ", \"fourth_channel\": \"" + (s.roi ? "roi" : "ignore") + "\"}";
  m["image_size"] = "[" + std::to_string(s.height) + ", " + std::to_string(s.width) + "]";
  if (patch) {
    m["tiling"] = "{\"patch\": " + std::to_string(s.patch) + ", \"min_overlap\": " + std::to_string(s.min_overlap) +
                  ", \"positions_y\": " + json_ints(positions_along(s.height, s.patch, 1, s.min_overlap)) +
                  ", \"positions_x\": " + json_ints(positions_along(s.width, s.patch, 1, s.min_overlap)) +
                  ", \"stitch\": \"nearest_centre\", \"mode\": \"runtime\"}";
  } else {
    m["tiling"] = "{\"patch\": null, \"stitch\": \"nearest_centre\", \"mode\": \"" +
                  std::string(s.graph == "tiled" ? "baked" : "none") + "\"}";
  }
  m["score"] = R"({"reduction": "box_mean_max", "box": 3, "border": "reflect"})";
  const bool score = !patch && s.graph_score;
  m["outputs"] = std::string("{\"format\": \"") + (s.seed3ch ? "seed3ch" : "raw") +
                 "\", \"heatmap\": \"heatmap\", \"score\": " + (score ? "\"score\"" : "null") + "}";
  m["thresholds"] =
      "{\"image\": " + std::to_string(s.image_threshold) + ", \"pixel\": " + std::to_string(s.pixel_threshold) + "}";
  m["precision"] = "fp32";
  m["provenance"] = R"({"run_config": {"width": 16}, "data_fingerprint": "sha256:00", "defectkit_version": "0.1.0"})";
  return m;
}

// The same artifact described in format 2.
std::map<std::string, std::string> metadata_v2(const ArtifactSpec& s) {
  using Json = nlohmann::json;
  const bool patch = s.graph == "patch";
  const Json batch = s.fixed_batch > 0 && patch ? Json(s.fixed_batch) : Json("batch");
  const int h = patch ? s.patch : s.height, w = patch ? s.patch : s.width;
  Json input = {{"name", patch ? "patch" : "strip"},
                {"dtype", "float32"},
                {"shape", {batch, patch ? Json(3) : Json("channels"), h, w}},
                {"layout", "NCHW"},
                {"scale", 255.0},
                {"meaning", "target, ref1, ref2 (and an ROI) on the 0..255 scale"}};
  Json outputs = Json::array();
  outputs.push_back({{"name", "heatmap"},
                     {"dtype", "float32"},
                     {"shape", {batch, s.seed3ch ? 3 : 1, h, w}},
                     {"layout", "NCHW"},
                     {"scale", nullptr},
                     {"meaning", "per-pixel defect probability"}});
  if (!patch && s.graph_score) {
    outputs.push_back({{"name", "score"}, {"dtype", "float32"}, {"shape", {"batch"}}, {"layout", "N"}});
  }
  Json tiling = {{"patch", nullptr}, {"stitch", "nearest_centre"}, {"mode", s.graph == "tiled" ? "baked" : "none"}};
  if (patch) {
    tiling = {{"patch", s.patch},
              {"min_overlap", s.min_overlap},
              {"positions_y", positions_along(s.height, s.patch, 1, s.min_overlap)},
              {"positions_x", positions_along(s.width, s.patch, 1, s.min_overlap)},
              {"stitch", "nearest_centre"},
              {"mode", "runtime"}};
  }
  Json section = {{"graph", s.graph},
                  {"image_size", {s.height, s.width}},
                  {"channels", {"target", "ref1", "ref2"}},
                  {"accepted_channels", s.roi ? Json({4}) : Json({3, 4})},
                  {"fourth_channel", s.roi ? "roi" : "ignore"},
                  {"tiling", tiling},
                  {"score", {{"reduction", "box_mean_max"}, {"box", 3}, {"border", "reflect"}}},
                  {"output_format", s.seed3ch ? "seed3ch" : "raw"}};
  for (const auto& [field, value] : s.section_overrides) {
    if (value == "null")
      section.erase(field);
    else
      section[field] = Json::parse(value);
  }
  std::map<std::string, std::string> m;
  m["format_version"] = "2";
  m["family"] = "reference_unet";
  m["precision"] = "fp32";
  m["inputs"] = Json::array({input}).dump();
  m["outputs"] = outputs.dump();
  m["thresholds"] = Json{{"image", s.image_threshold}, {"pixel", s.pixel_threshold}}.dump();
  m["family_section"] = section.dump();
  m["provenance"] = R"({"run_config": {"width": 16}, "data_fingerprint": "sha256:00", "defectkit_version": "0.1.0"})";
  return m;
}

}  // namespace

std::map<std::string, std::string> session_artifact_metadata(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> m;
  m["format_version"] = "2";
  m["family"] = "test_fusion";
  m["precision"] = "fp32";
  m["inputs"] = R"([
    {"name": "image", "dtype": "uint8", "shape": ["batch", "height", "width", 3], "layout": "NHWC",
     "scale": 255.0, "meaning": "camera image"},
    {"name": "series", "dtype": "float32", "shape": ["batch", 8], "layout": "NT", "scale": null,
     "meaning": "sensor series"}])";
  m["outputs"] = R"([
    {"name": "score", "dtype": "float32", "shape": ["batch"], "layout": "N", "scale": null, "meaning": "a score"},
    {"name": "peak", "dtype": "int64", "shape": ["batch"], "layout": "N", "scale": null, "meaning": "argmax"}])";
  m["thresholds"] = R"({"score": 0.5})";
  m["family_section"] = R"({"classes": ["good", "bad"], "bank_size": 4})";
  m["provenance"] = R"({"defectkit_version": "0.1.0"})";
  for (const auto& [key, value] : overrides) m[key] = value;
  std::map<std::string, std::string> prefixed;
  for (const auto& [key, value] : m) prefixed["defectkit." + key] = value;
  return prefixed;
}

void write_session_artifact(const std::string& path, const std::map<std::string, std::string>& overrides) {
  OnnxGraph g;
  g.inputs = {{"image", {-1, -1, -1, 3}, kOnnxUInt8, {"batch", "height", "width"}},
              {"series", {-1, 8}, kOnnxFloat, {"batch"}}};
  g.initializers = {scalar("per_255", 1.0f / 255.0f)};
  g.nodes = {
      {"Cast", {"image"}, {"image_f"}, {OnnxAttribute::integer("to", kOnnxFloat)}},
      {"ReduceMean",
       {"image_f"},
       {"image_mean"},
       {OnnxAttribute::integers("axes", {1, 2, 3}), OnnxAttribute::integer("keepdims", 0)}},
      {"Mul", {"image_mean", "per_255"}, {"image_part"}, {}},
      {"ReduceMax",
       {"series"},
       {"series_max"},
       {OnnxAttribute::integers("axes", {1}), OnnxAttribute::integer("keepdims", 0)}},
      {"Add", {"image_part", "series_max"}, {"score"}, {}},
      {"ArgMax", {"series"}, {"peak"}, {OnnxAttribute::integer("axis", 1), OnnxAttribute::integer("keepdims", 0)}}};
  g.outputs = {{"score", {-1}, kOnnxFloat, {"batch"}}, {"peak", {-1}, kOnnxInt64, {"batch"}}};
  g.metadata = session_artifact_metadata(overrides);
  write_onnx(g, path);
}

std::string temp_path(const std::string& filename) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("defectkit_artifact_tests_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / filename).string();
}

std::map<std::string, std::string> artifact_metadata(const ArtifactSpec& s) {
  std::map<std::string, std::string> m = s.format_version == 2 ? metadata_v2(s) : metadata_v1(s);
  for (const auto& [key, value] : s.overrides) m[key] = value;
  for (const auto& key : s.removed) m.erase(key);
  std::map<std::string, std::string> prefixed;
  for (const auto& [key, value] : m) prefixed["defectkit." + key] = value;
  return prefixed;
}

std::string write_artifact(const ArtifactSpec& s, const std::string& filename) {
  OnnxGraph g = s.graph == "patch" ? patch_graph(s) : full_image_graph(s);
  const int64_t n = s.graph == "patch" && s.fixed_batch > 0 ? s.fixed_batch : -1;
  const int64_t h = s.graph == "patch" ? s.patch : s.height, w = s.graph == "patch" ? s.patch : s.width;
  if (s.seed3ch) {
    g.nodes.push_back({"Mul", {"map", "zero"}, {"zeros"}, {}});
    g.initializers.push_back({"zero", {}, {0.0f}, {}});
    g.nodes.push_back({"Concat", {"map", "zeros", "zeros"}, {"heatmap"}, {OnnxAttribute::integer("axis", 1)}});
    g.outputs = {{"heatmap", {n, 3, h, w}}};
  } else {
    g.nodes.push_back({"Identity", {"map"}, {"heatmap"}, {}});
    g.outputs = {{"heatmap", {n, 1, h, w}}};
  }
  if (s.graph != "patch" && s.graph_score) {
    g.nodes.push_back({"ReduceMean",
                       {"map"},
                       {"score"},
                       {OnnxAttribute::integers("axes", {1, 2, 3}), OnnxAttribute::integer("keepdims", 0)}});
    g.outputs.push_back({"score", {-1}});
  }
  g.metadata = artifact_metadata(s);
  const std::string path = temp_path(filename);
  write_onnx(g, path);
  return path;
}

}  // namespace defectkit::testing
