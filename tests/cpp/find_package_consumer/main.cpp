// A line controller's first program: link the installed package, load ONNX
// Runtime (saying which and why: "ONNX Runtime 1.32.0 from PATH (package)"),
// and get a clean error for a strip that is not there.
#include <defectkit/error.h>
#include <defectkit/onnxruntime_loader.h>
#include <defectkit/strip_reader.h>

#include <cstdio>

int main() {
  try {
    const auto& ort = defectkit::load_onnxruntime();
    std::printf("ONNX Runtime %s from %s (%s)\n", ort.version.c_str(), ort.library_path.c_str(), ort.source.c_str());
  } catch (const defectkit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  try {
    defectkit::StripReader().read("/nonexistent/strip.tif");
  } catch (const defectkit::Error& e) {
    if (e.code() == defectkit::ErrorCode::kFileNotFound) {
      std::printf("missing strip refused: %s\n", e.what());
      return 0;
    }
    std::fprintf(stderr, "unexpected error: %s\n", e.what());
  }
  return 1;
}
