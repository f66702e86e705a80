// line_controller: what an integrator starts from. Opens an artifact once,
// then inspects strips as they arrive, from a list file or by watching a
// folder, and logs one decision line per strip:
//   line_controller ARTIFACT --list STRIPS.txt
//   line_controller ARTIFACT --watch DIR [--poll-ms 200] [--once]
// A strip that cannot be inspected is logged as an error; the line goes on.
#include <defectkit/error.h>
#include <defectkit/inspector.h>
#include <defectkit/onnxruntime_loader.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

// One line per strip: time, decision, score, regions, latency, path.
void inspect_and_log(const defectkit::Inspector& inspector, const std::string& path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&now));
  try {
    const auto start = std::chrono::steady_clock::now();
    const defectkit::Inspection r = inspector.inspect(path);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s %s score=%.4f regions=%zu ms=%.1f %s\n", stamp, r.is_defective ? "REJECT" : "PASS", r.score,
                r.regions.size(), ms, path.c_str());
  } catch (const defectkit::Error& e) {
    std::printf("%s ERROR %s: %s\n", stamp, defectkit::error_code_name(e.code()), e.what());
  }
  std::fflush(stdout);
}

bool is_strip(const fs::path& p) { return p.extension() == ".tif" || p.extension() == ".tiff"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (std::string(argv[2]) != "--list" && std::string(argv[2]) != "--watch")) {
    std::fprintf(stderr, "usage: %s ARTIFACT --list STRIPS.txt | --watch DIR [--poll-ms N] [--once]\n", argv[0]);
    return 2;
  }
  int poll_ms = 200;
  bool once = false;
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--once")
      once = true;
    else if (a == "--poll-ms" && i + 1 < argc)
      poll_ms = std::atoi(argv[++i]);
  }
  try {
    const auto inspector = defectkit::Inspector::open(argv[1]);
    // Which ONNX Runtime, and why: "package" is the onnxruntime wheel beside the installed defectkit.
    const auto& ort = defectkit::load_onnxruntime();
    std::printf("ONNX Runtime %s from %s (%s)\n", ort.version.c_str(), ort.library_path.c_str(), ort.source.c_str());
    std::printf("artifact %s: %s graph, thresholds image %.3f pixel %.3f\n", argv[1],
                defectkit::graph_kind_name(inspector.info().graph), inspector.info().thresholds.image,
                inspector.info().thresholds.pixel);
    if (std::string(argv[2]) == "--list") {
      std::ifstream list(argv[3]);
      if (!list) throw defectkit::Error(defectkit::ErrorCode::kFileNotFound, std::string(argv[3]) + ": cannot open");
      for (std::string line; std::getline(list, line);) {
        if (!line.empty()) inspect_and_log(inspector, line);
      }
      return 0;
    }
    // Polling works on every file system (network shares included); a strip
    // is taken once, the first time a scan sees it.
    std::set<fs::path> seen;
    for (;;) {
      std::vector<fs::path> fresh;
      for (const auto& entry : fs::directory_iterator(argv[3])) {
        if (entry.is_regular_file() && is_strip(entry.path()) && !seen.count(entry.path()))
          fresh.push_back(entry.path());
      }
      std::sort(fresh.begin(), fresh.end());
      for (const auto& p : fresh) {
        seen.insert(p);
        inspect_and_log(inspector, p.string());
      }
      if (once) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
