// defectkit/input_bounds.h — the input shapes a session was fixed to by its
// provider options (OpenVINO's "reshape_input").
//
// The OpenVINO provider compiles the graph for the shape "reshape_input" gives
// and then reads any input as that shape: an image with another channel count
// came back with a wrong probability and no error (ViT-S/14 INT8, fixed to one
// channel, given an RGB PNG). Model checks every input against these bounds
// before the run and refuses one outside them instead.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace defectkit {

// One dimension's allowed sizes; min == max for a fixed size.
struct DimensionBound {
  int64_t min = 0;
  int64_t max = 0;
};

// Input name -> its bounds, one per axis.
using InputBounds = std::map<std::string, std::vector<DimensionBound>>;

// Parses a "reshape_input" value in the grammar of ONNX Runtime's OpenVINO
// provider: "name[d, d, ...]" entries separated by commas, each d a size or a
// range "lo..hi" (e.g. "image[1,224,224,3]", "a[1..4, 3], b[2]"). Written by
// hand because the provider does not expose its parser and the grammar is this
// small. Throws Error(kInvalidArgument) naming the value and the fault for an
// empty value, a missing bracket, an empty name or dimension list, a name given
// twice, or a dimension that is not a positive integer or an ordered range.
InputBounds parse_reshape_input(const std::string& value);

// True when `shape` has one dimension per bound and each lies within it.
bool within_bounds(const std::vector<int64_t>& shape, const std::vector<DimensionBound>& bounds);

// "[1, 224, 224, 1..3]": bounds as the error messages print them.
std::string bounds_string(const std::vector<DimensionBound>& bounds);

}  // namespace defectkit
