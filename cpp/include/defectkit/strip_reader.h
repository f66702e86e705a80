// defectkit::StripReader — decodes strip TIFFs into channels-first float tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace defectkit {

// A decoded strip: channels-first (C, H, W) float32 on the 0..255 scale the
// file holds (uint16 is divided by 257; floats are kept as they are).
struct StripTensor {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> data;  // size channels * height * width, row-major CHW

  const float* channel(int c) const { return data.data() + static_cast<size_t>(c) * height * width; }
};

// Settings for reading; the defaults follow the data contract in DESIGN.md.
struct StripReaderOptions {
  int min_channels = 3;              // target, ref1, ref2
  int max_channels = 4;              // + optional ROI channel
  int64_t max_values = int64_t{1} << 28;  // refuse headers asking for > 1 GiB of floats
};

// Reads strips per the data contract: 3 or 4 channels stored planar,
// contiguous or one channel per page; uint8/uint16/float32/float64; any
// lossless compression libtiff decodes; striped or tiled; either byte order;
// classic or BigTIFF. Refuses everything else with Error naming the file.
class StripReader {
 public:
  explicit StripReader(StripReaderOptions options = {}) : options_(options) {}

  // Returns the strip at `path` as CHW float32. Throws Error(kFileNotFound,
  // kBadFile or kUnsupported) whose message starts with the path.
  // Thread-safe: no state is shared between calls.
  StripTensor read(const std::string& path) const;

 private:
  StripReaderOptions options_;
};

}  // namespace defectkit
