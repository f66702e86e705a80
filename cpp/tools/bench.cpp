// defectkit-bench ARTIFACT [INPUT]: warm-up runs, then timed runs of one
// input through the head the artifact's family picks (a strip through the
// Inspector for reference_unet, an image through the ImageClassifier for
// guided_classifier; a random one of the artifact's size when none is given);
// prints latency percentiles, throughput, peak RSS, threads, provider and
// the ONNX Runtime version, as text or JSON (--json).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/image_classifier.h"
#include "defectkit/image_reader.h"
#include "defectkit/inspector.h"
#include "defectkit/onnxruntime_loader.h"
#include "defectkit/strip_reader.h"
#include "tool_args.h"

namespace tools = defectkit::tools;

namespace {

const char* kUsage =
    "usage: defectkit-bench ARTIFACT [INPUT] [--runs N] [--warmup N] [--threads N] [--provider P] [--json]\n"
    "                       [--provider-option KEY=VALUE]... [--verify] [--sha256 HEX]\n"
    "  INPUT: a strip TIFF (reference_unet artifacts) or a PNG, JPEG or TIFF image (guided_classifier);\n"
    "  without it: a random 4-channel strip of the artifact's image size, or a random RGB image of the\n"
    "  classifier's input_size (224 x 224 when the artifact gives none). Images are decoded once, then\n"
    "  classified from memory, as strips are inspected from memory.\n"
    "  --provider-option KEY=VALUE (repeatable): an option of the openvino provider, e.g.\n"
    "    reshape_input=strip[1,4,976,176] to fix a strip artifact's input shape (docs/NATIVE.md)\n"
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

// One benchmark: what runs, on what, and how it is described.
struct Workload {
  std::function<void()> run_once;
  std::string source = "random";  // the input file, or "random"
  std::string input_key;          // "strip" or "image"
  std::string kind;               // reference_unet: the graph kind; guided_classifier: the family
  std::string provider;
  int height = 0, width = 0;
};

// The strip and the Inspector live in `keep` for as long as the workload runs.
Workload strip_workload(const tools::Args& args, std::shared_ptr<void>& keep) {
  struct State {
    defectkit::Inspector inspector;
    defectkit::StripTensor strip;
    defectkit::Inspection result;
  };
  auto state = std::make_shared<State>(
      State{defectkit::Inspector::open(args.positional[0], tools::inspector_options(args)), {}, {}});
  Workload w;
  defectkit::StripTensor& strip = state->strip;
  if (args.positional.size() == 2) {
    w.source = args.positional[1];
    strip = defectkit::StripReader().read(w.source);
  } else {
    strip.channels = 4;
    strip.height = state->inspector.info().image_height;
    strip.width = state->inspector.info().image_width;
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
  State* s = state.get();
  w.run_once = [s, view] { s->inspector.inspect_into(view, s->result); };
  w.input_key = "strip";
  w.kind = defectkit::graph_kind_name(s->inspector.info().graph);
  w.provider = s->inspector.model().execution_provider();
  w.height = strip.height;
  w.width = strip.width;
  keep = state;
  return w;
}

Workload image_workload(const tools::Args& args, std::shared_ptr<void>& keep) {
  struct State {
    defectkit::ImageClassifier classifier;
    defectkit::Image image;
  };
  auto state = std::make_shared<State>(
      State{defectkit::ImageClassifier::open(args.positional[0], tools::classifier_options(args)), {}});
  Workload w;
  defectkit::Image& image = state->image;
  if (args.positional.size() == 2) {
    w.source = args.positional[1];
    image = defectkit::ImageReader().read(w.source);
  } else {
    const auto& info = state->classifier.info();
    image.height = info.input_height > 0 ? info.input_height : 224;
    image.width = info.input_width > 0 ? info.input_width : 224;
    image.channels = info.channels == 1 ? 1 : 3;
    image.data.resize(static_cast<size_t>(image.height) * image.width * image.channels);
    std::mt19937 rng(0);
    std::uniform_int_distribution<int> value(0, 255);
    for (auto& v : image.data) v = static_cast<uint8_t>(value(rng));
  }
  State* s = state.get();
  const defectkit::ImageView view = defectkit::view_of(image);
  w.run_once = [s, view] { s->classifier.classify(view); };
  w.input_key = "image";
  w.kind = tools::kClassifierFamily;
  w.provider = s->classifier.model().execution_provider();
  w.height = image.height;
  w.width = image.width;
  keep = state;
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  return tools::run_tool(kUsage, [&] {
    const auto args = tools::parse_args(argc, argv, {"--runs", "--warmup", "--threads", "--provider", "--provider-option", "--sha256"},
                                        {"--json", "--verify", "--help"});
    if (args.has("--help") || args.positional.empty() || args.positional.size() > 2) {
      std::fputs(kUsage, args.has("--help") ? stdout : stderr);
      return args.has("--help") ? 0 : 2;
    }
    const int runs = std::max(1, args.integer("--runs", 50));
    const int warmup = std::max(0, args.integer("--warmup", 5));
    const std::string& artifact = args.positional[0];
    tools::verify_if_asked(args, artifact);
    const std::string family = tools::artifact_family(artifact, tools::model_options(args));
    std::shared_ptr<void> keep;
    const Workload w = family == tools::kClassifierFamily ? image_workload(args, keep) : strip_workload(args, keep);
    const auto& ort = defectkit::load_onnxruntime();

    for (int i = 0; i < warmup; ++i) w.run_once();
    std::vector<double> ms;
    const auto all = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      w.run_once();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - all).count();
    std::sort(ms.begin(), ms.end());
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    const double rss_mib = usage.ru_maxrss / 1024.0;  // Linux reports KiB

    const bool json = args.has("--json");
    const std::string name = json ? json_escape(artifact) : artifact;
    const std::string source = json ? json_escape(w.source) : w.source;
    const char* key = w.input_key.c_str();
    const int threads = args.integer("--threads", 0);
    if (json) {
      std::printf(
          "{\"artifact\": \"%s\", \"family\": \"%s\", \"%s\": \"%s\", \"height\": %d, \"width\": %d, \"graph\": "
          "\"%s\", \"runs\": %d, \"warmup\": %d, \"min_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
          "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"%ss_per_s\": %.2f, \"peak_rss_mib\": %.1f, "
          "\"intra_op_threads\": %d, \"provider\": \"%s\", \"onnxruntime\": \"%s\"}\n",
          name.c_str(), json_escape(family).c_str(), key, source.c_str(), w.height, w.width, w.kind.c_str(), runs,
          warmup, ms.front(), percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), ms.back(), key,
          runs / total_s, rss_mib, threads, w.provider.c_str(), ort.version.c_str());
    } else {
      std::printf(
          "artifact %s (%s)\n%s %s (%d x %d), %s\nruns %d after %d warm-up\n"
          "latency ms: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n"
          "throughput %.2f %ss/s\npeak RSS %.1f MiB\nintra-op threads %d (0: ONNX Runtime decides), provider %s, "
          "ONNX Runtime %s\n",
          name.c_str(), family.c_str(), key, source.c_str(), w.height, w.width,
          w.input_key == "strip" ? (w.kind + " graph").c_str() : w.kind.c_str(), runs, warmup, ms.front(),
          percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), ms.back(), runs / total_s, key, rss_mib, threads,
          w.provider.c_str(), ort.version.c_str());
    }
    return 0;
  });
}
