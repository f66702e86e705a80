// Format 1 artifacts (defectkit up to commit 1816fba) read as format 2.
#pragma once

#include "defectkit/artifact_metadata.h"
#include "metadata_json.h"

namespace defectkit::detail {

// Builds format-2 metadata from a format-1 file's keys (docs/ARTIFACT.md,
// "Format version 1"): the family section from graph, image_size,
// input.channels / accepted_channels / fourth_channel, tiling, score and
// outputs (format, heatmap, score); specs for the tensors `input` and
// `outputs` name, without shapes. Throws Error(kModel) naming the v1 key.
ArtifactMetadata convert_format_1(const MetadataReader& r);

// Shared by both formats: defectkit.thresholds ({name: finite float}) and the precision's check.
std::map<std::string, float> parse_thresholds(const MetadataReader& r);
void check_precision(const MetadataReader& r, const std::string& precision);
// defectkit.int8_weight_bits: 0 for FP32; for INT8 7 or 8, 8 when absent (files before the key).
int parse_int8_weight_bits(const MetadataReader& r, const std::string& precision);

}  // namespace defectkit::detail
