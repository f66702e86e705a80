// The guided_classifier head's artifact info (classifier_artifact.h): its
// family section, thresholds and tensor specs, read from ArtifactMetadata.
#include <algorithm>

#include "defectkit/classifier_artifact.h"
#include "defectkit/error.h"
#include "metadata_json.h"

namespace defectkit {
namespace {

using detail::brief;
using detail::Json;
using detail::JsonFields;

constexpr const char* kFamily = "guided_classifier";
constexpr int64_t kMaxInputSide = int64_t{1} << 16;

std::string key(const std::string& field) { return "defectkit.family_section." + field; }

Json parse_section(const JsonFields& r, const ArtifactMetadata& m) {
  Json section;
  try {
    section = Json::parse(m.family_json);
  } catch (const Json::exception& e) {
    r.fail(std::string("defectkit.family_section is not valid JSON: ") + e.what());
  }
  if (!section.is_object()) r.fail("defectkit.family_section must be a JSON object, got " + brief(section));
  return section;
}

void parse_classes(const JsonFields& r, const Json& section, ClassifierInfo& info) {
  if (!section.contains("classes") || !section.at("classes").is_array() || section.at("classes").empty() ||
      !std::all_of(section.at("classes").begin(), section.at("classes").end(),
                   [](const Json& name) { return name.is_string(); })) {
    r.fail(key("classes") + " must be a non-empty list of class names, got " +
           (section.contains("classes") ? brief(section.at("classes")) : std::string("nothing")));
  }
  info.classes = section.at("classes").get<std::vector<std::string>>();
  info.defect_class = r.member<int>(section, "defect_class", key("defect_class"));
  if (info.defect_class < 0 || info.defect_class >= static_cast<int>(info.classes.size())) {
    r.fail(key("defect_class") + " is " + std::to_string(info.defect_class) + " but there are " +
           std::to_string(info.classes.size()) + " classes");
  }
}

// The informational fields: read when present, refused only when of the wrong type.
void parse_informational(const JsonFields& r, const Json& section, ClassifierInfo& info) {
  if (section.contains("input_size") && !section.at("input_size").is_null()) {
    const Json& size = section.at("input_size");
    if (!size.is_array() || size.size() != 2 || !JsonFields::fits<int64_t>(size[0]) ||
        !JsonFields::fits<int64_t>(size[1]) || size[0].get<int64_t>() < 1 || size[1].get<int64_t>() < 1 ||
        size[0].get<int64_t>() > kMaxInputSide || size[1].get<int64_t>() > kMaxInputSide) {
      r.fail(key("input_size") + " must be [H, W] with integers in 1.." + std::to_string(kMaxInputSide) + ", got " +
             brief(size));
    }
    info.input_height = static_cast<int>(size[0].get<int64_t>());
    info.input_width = static_cast<int>(size[1].get<int64_t>());
  }
  auto floats = [&](const char* field) {
    if (!section.contains(field) || section.at(field).is_null()) return std::vector<float>();
    const Json& values = section.at(field);
    if (!values.is_array() || !std::all_of(values.begin(), values.end(), JsonFields::fits<float>)) {
      r.fail(key(field) + " must be a list of numbers, got " + brief(values));
    }
    std::vector<float> out;
    for (const Json& v : values) out.push_back(v.get<float>());
    return out;
  };
  info.mean = floats("mean");
  info.std = floats("std");
  info.backbone = r.member_or<std::string>(section, "backbone", key("backbone"), "");
  info.pooling = r.member_or<std::string>(section, "pooling", key("pooling"), "");
}

float threshold(const JsonFields& r, const ArtifactMetadata& m, const std::string& name) {
  const auto found = m.thresholds.find(name);
  if (found == m.thresholds.end()) r.fail("defectkit.thresholds has no '" + name + "'");
  return found->second;
}

// The tensors the head feeds and reads, against what it can do.
void check_tensors(const JsonFields& r, const ArtifactMetadata& m, ClassifierInfo& info) {
  if (m.inputs.size() != 1 || m.inputs[0].name != "image") {
    r.fail("a guided_classifier graph takes exactly one input, 'image' (uint8 NHWC)");
  }
  const TensorSpec& image = m.inputs[0];
  if (image.dtype != ElementType::kUInt8) {
    r.fail(std::string("input 'image' is ") + element_type_name(image.dtype) + "; the image head feeds uint8");
  }
  if (image.shape.size() != 4 || (!image.layout.empty() && image.layout != "NHWC")) {
    r.fail("input 'image' must be 4-D NHWC (1, height, width, channels), got " + shape_string(image.shape) + " " +
           image.layout);
  }
  if (image.shape[0].is_fixed() && image.shape[0].size != 1) {
    r.fail("input 'image' has a fixed batch of " + std::to_string(image.shape[0].size) + "; the image head feeds 1");
  }
  const Dim& channels = image.shape[3];
  if (channels.is_fixed() && channels.size != 1 && channels.size != 3) {
    r.fail("input 'image' takes " + std::to_string(channels.size) + " channels; the image head feeds 1 or 3");
  }
  info.channels = channels.is_fixed() ? static_cast<int>(channels.size) : 0;
  if (image.scale && *image.scale != 255.0f) r.fail("input 'image' must be on the 0..255 scale (scale 255)");

  const TensorSpec* probabilities = m.find_output("probabilities");
  const TensorSpec* mask = m.find_output("mask");
  if (probabilities == nullptr || mask == nullptr)
    r.fail("a guided_classifier graph outputs 'probabilities' and 'mask'");
  if (probabilities->dtype != ElementType::kFloat32 || mask->dtype != ElementType::kFloat32) {
    r.fail("outputs 'probabilities' and 'mask' must be float32");
  }
  if (probabilities->shape.size() != 2) {
    r.fail("output 'probabilities' must be 2-D (1, classes), got " + shape_string(probabilities->shape));
  }
  const Dim& count = probabilities->shape[1];
  if (count.is_fixed() && count.size != static_cast<int64_t>(info.classes.size())) {
    r.fail("output 'probabilities' has " + std::to_string(count.size) + " classes but " + key("classes") + " names " +
           std::to_string(info.classes.size()));
  }
  if (mask->shape.size() != 4 || (mask->shape[1].is_fixed() && mask->shape[1].size != 1)) {
    r.fail("output 'mask' must be 4-D (1, 1, height, width), got " + shape_string(mask->shape));
  }
}

}  // namespace

ClassifierInfo classifier_info_from(const ArtifactMetadata& m, const std::string& path) {
  const JsonFields r(path);
  if (m.family != kFamily) {
    r.fail("a " + m.family + " artifact; defectkit::ImageClassifier runs " + kFamily +
           " artifacts, ArtifactSession runs any");
  }
  const Json section = parse_section(r, m);
  ClassifierInfo info;
  info.format_version = m.format_version;
  info.family = m.family;
  info.precision = m.precision;
  info.provenance_json = m.provenance_json;
  parse_classes(r, section, info);
  parse_informational(r, section, info);
  info.defect_threshold = threshold(r, m, "defect");
  info.pixel_threshold = threshold(r, m, "pixel");
  check_tensors(r, m, info);
  info.metadata = m;
  return info;
}

ClassifierInfo parse_classifier_info(const std::map<std::string, std::string>& metadata, const std::string& path) {
  return classifier_info_from(parse_artifact_metadata(metadata, path), path);
}

}  // namespace defectkit
