// defectkit-bench ARTIFACT [STRIP]: warm-up runs, then timed inspections of
// one strip (a random one of the artifact's image size when none is given);
// prints latency percentiles, throughput, peak RSS, threads, provider and
// the ONNX Runtime version, as text or JSON (--json).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/onnxruntime_loader.h"
#include "defectkit/strip_reader.h"
#include "tool_args.h"

namespace {

const char* kUsage =
    "usage: defectkit-bench ARTIFACT [STRIP] [--runs N] [--warmup N] [--threads N] [--provider P] [--json]\n"
    "                       [--verify] [--sha256 HEX]\n"
    "  without STRIP: a random 4-channel strip of the artifact's image size\n"
    "  --verify: check the artifact's SHA-256 against export_report.json beside it (or --sha256 HEX) first\n";

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// Paths go into JSON strings: escape what JSON requires.
std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // control characters have no place in a path we print
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return defectkit::tools::run_tool(kUsage, [&] {
    const auto args = defectkit::tools::parse_args(
        argc, argv, {"--runs", "--warmup", "--threads", "--provider", "--sha256"}, {"--json", "--verify", "--help"});
    if (args.has("--help") || args.positional.empty() || args.positional.size() > 2) {
      std::fputs(kUsage, args.has("--help") ? stdout : stderr);
      return args.has("--help") ? 0 : 2;
    }
    const int runs = std::max(1, args.integer("--runs", 50));
    const int warmup = std::max(0, args.integer("--warmup", 5));
    const defectkit::InspectorOptions options = defectkit::tools::inspector_options(args);
    const auto inspector = defectkit::Inspector::open(args.positional[0], options);
    const auto& ort = defectkit::load_onnxruntime();

    defectkit::StripTensor strip;
    std::string source = "random";
    if (args.positional.size() == 2) {
      source = args.positional[1];
      strip = defectkit::StripReader().read(source);
    } else {
      strip.channels = 4;
      strip.height = inspector.info().image_height;
      strip.width = inspector.info().image_width;
      strip.data.resize(static_cast<size_t>(4) * strip.height * strip.width);
      std::mt19937 rng(0);
      std::uniform_real_distribution<float> value(0.0f, 255.0f);
      for (auto& v : strip.data) v = value(rng);
      std::fill(strip.data.end() - static_cast<long>(strip.height) * strip.width, strip.data.end(),
                1.0f);  // ROI: all in
    }
    const defectkit::StripView view{strip.data.data(),
                                    strip.data.size() * sizeof(float),
                                    defectkit::DType::kFloat32,
                                    defectkit::Layout::kCHW,
                                    strip.channels,
                                    strip.height,
                                    strip.width};
    defectkit::Inspection result;
    for (int i = 0; i < warmup; ++i) inspector.inspect_into(view, result);
    std::vector<double> ms;
    const auto all = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      inspector.inspect_into(view, result);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - all).count();
    std::sort(ms.begin(), ms.end());
    struct rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double rss_mib = usage.ru_maxrss / 1024.0;  // Linux reports KiB

    const char* fmt =
        args.has("--json")
            ? "{\"artifact\": \"%s\", \"strip\": \"%s\", \"height\": %d, \"width\": %d, \"graph\": \"%s\", "
              "\"runs\": %d, \"warmup\": %d, \"min_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
              "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"strips_per_s\": %.2f, \"peak_rss_mib\": %.1f, "
              "\"intra_op_threads\": %d, \"provider\": \"%s\", \"onnxruntime\": \"%s\"}\n"
            : "artifact %s\nstrip %s (%d x %d), %s graph\nruns %d after %d warm-up\n"
              "latency ms: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n"
              "throughput %.2f strips/s\npeak RSS %.1f MiB\nintra-op threads %d (0: ONNX Runtime "
              "decides), provider %s, ONNX Runtime %s\n";
    const bool json = args.has("--json");
    const std::string artifact = json ? json_escape(args.positional[0]) : args.positional[0];
    if (json) source = json_escape(source);
    std::printf(fmt, artifact.c_str(), source.c_str(), strip.height, strip.width,
                defectkit::graph_kind_name(inspector.info().graph), runs, warmup, ms.front(), percentile(ms, 50),
                percentile(ms, 90), percentile(ms, 99), ms.back(), runs / total_s, rss_mib,
                options.model.intra_op_threads, inspector.model().execution_provider().c_str(), ort.version.c_str());
    return 0;
  });
}
