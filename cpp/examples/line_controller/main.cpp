// line_controller: what an integrator starts from. Opens an artifact once,
// picks the head its family needs (strips through the Inspector for
// reference_unet, camera images through the ImageClassifier for
// guided_classifier), then takes inputs as they arrive, from a list file or
// by watching a folder, and logs one decision line per input:
//   line_controller ARTIFACT --list INPUTS.txt
//   line_controller ARTIFACT --watch DIR [--poll-ms 200] [--once]
// An input that cannot be judged is logged as an error; the line goes on.
#include <defectkit/artifact_session.h>
#include <defectkit/error.h>
#include <defectkit/image_classifier.h>
#include <defectkit/inspector.h>
#include <defectkit/onnxruntime_loader.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

// One head behind one call: an input's path in, the middle of its log line out
// ("REJECT score=0.7312 regions=2"). Throws defectkit::Error.
struct Station {
  std::function<std::string(const std::string& path)> judge;
  std::set<std::string> extensions;  // what --watch picks up
};

Station strip_station(const std::string& artifact) {
  auto inspector = std::make_shared<defectkit::Inspector>(defectkit::Inspector::open(artifact));
  const auto& info = inspector->info();
  std::printf("artifact %s: reference_unet %s graph, thresholds image %.3f pixel %.3f\n", artifact.c_str(),
              defectkit::graph_kind_name(info.graph), info.thresholds.image, info.thresholds.pixel);
  Station s;
  s.judge = [inspector](const std::string& path) {
    const defectkit::Inspection r = inspector->inspect(path);
    char line[128];
    std::snprintf(line, sizeof line, "%s score=%.4f regions=%zu", r.is_defective ? "REJECT" : "PASS", r.score,
                  r.regions.size());
    return std::string(line);
  };
  s.extensions = {".tif", ".tiff"};
  return s;
}

Station image_station(const std::string& artifact) {
  auto classifier = std::make_shared<defectkit::ImageClassifier>(defectkit::ImageClassifier::open(artifact));
  const auto& info = classifier->info();
  std::printf("artifact %s: guided_classifier, %zu classes, defect class '%s', thresholds defect %.3f pixel %.3f\n",
              artifact.c_str(), info.classes.size(), info.classes[info.defect_class].c_str(), info.defect_threshold,
              info.pixel_threshold);
  Station s;
  s.judge = [classifier](const std::string& path) {
    const defectkit::Classification r = classifier->classify(path);
    char line[256];
    std::snprintf(line, sizeof line, "%s defect=%.4f class=%s regions=%zu", r.is_defective ? "REJECT" : "PASS",
                  r.defect_probability, r.classes[r.top_class].c_str(), r.regions.size());
    return std::string(line);
  };
  s.extensions = {".png", ".jpg", ".jpeg", ".tif", ".tiff"};
  return s;
}

// One line per input: time, decision and its numbers, latency, path.
void judge_and_log(const Station& station, const std::string& path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&now));
  try {
    const auto start = std::chrono::steady_clock::now();
    const std::string decision = station.judge(path);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s %s ms=%.1f %s\n", stamp, decision.c_str(), ms, path.c_str());
  } catch (const defectkit::Error& e) {
    std::printf("%s ERROR %s: %s\n", stamp, defectkit::error_code_name(e.code()), e.what());
  }
  std::fflush(stdout);
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (std::string(argv[2]) != "--list" && std::string(argv[2]) != "--watch")) {
    std::fprintf(stderr, "usage: %s ARTIFACT --list INPUTS.txt | --watch DIR [--poll-ms N] [--once]\n", argv[0]);
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
    // The artifact says which family it is; each family has its head.
    const std::string family = defectkit::read_artifact_metadata(argv[1]).family;
    const Station station = family == "guided_classifier" ? image_station(argv[1]) : strip_station(argv[1]);
    // Which ONNX Runtime, and why: "package" is the onnxruntime wheel beside the installed defectkit.
    const auto& ort = defectkit::load_onnxruntime();
    std::printf("ONNX Runtime %s from %s (%s)\n", ort.version.c_str(), ort.library_path.c_str(), ort.source.c_str());
    if (std::string(argv[2]) == "--list") {
      std::ifstream list(argv[3]);
      if (!list) throw defectkit::Error(defectkit::ErrorCode::kFileNotFound, std::string(argv[3]) + ": cannot open");
      for (std::string line; std::getline(list, line);) {
        if (!line.empty()) judge_and_log(station, line);
      }
      return 0;
    }
    // Polling works on every file system (network shares included); an input
    // is taken once, the first time a scan sees it.
    std::set<fs::path> seen;
    for (;;) {
      std::vector<fs::path> fresh;
      for (const auto& entry : fs::directory_iterator(argv[3])) {
        if (entry.is_regular_file() && station.extensions.count(lower_extension(entry.path())) &&
            !seen.count(entry.path()))
          fresh.push_back(entry.path());
      }
      std::sort(fresh.begin(), fresh.end());
      for (const auto& p : fresh) {
        seen.insert(p);
        judge_and_log(station, p.string());
      }
      if (once) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
