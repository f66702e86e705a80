// defectkit-strip-info: decodes strips with the native reader and prints
// their shape and per-channel range. Exit code 0 when every file reads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "defectkit/error.h"
#include "defectkit/strip_reader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s STRIP.tif [STRIP.tif ...]\n", argv[0]);
    return 2;
  }
  int failures = 0;
  defectkit::StripReader reader;
  for (int i = 1; i < argc; ++i) {
    try {
      const auto start = std::chrono::steady_clock::now();
      const defectkit::StripTensor strip = reader.read(argv[i]);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("%s: %d x %d x %d (C x H x W) in %.2f ms;", argv[i], strip.channels, strip.height, strip.width, ms);
      const size_t plane = static_cast<size_t>(strip.height) * strip.width;
      for (int c = 0; c < strip.channels; ++c) {
        float lo = strip.channel(c)[0], hi = lo;
        for (size_t k = 0; k < plane; ++k) {
          lo = std::min(lo, strip.channel(c)[k]);
          hi = std::max(hi, strip.channel(c)[k]);
        }
        std::printf(" c%d [%.1f, %.1f]", c, lo, hi);
      }
      std::printf("\n");
    } catch (const defectkit::Error& e) {
      std::fprintf(stderr, "error (%s): %s\n", defectkit::error_code_name(e.code()), e.what());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
