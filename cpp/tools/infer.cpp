// defectkit-infer ARTIFACT INPUT... [--out DIR]: runs an artifact over files
// with the native runtime and writes a CSV of results and one float32 TIFF
// map per input. The artifact's family picks the head: strips (TIFF) through
// the Inspector for reference_unet, images (PNG, JPEG, TIFF) through the
// ImageClassifier for guided_classifier. Exit code 0 when every input ran.
#include <tiffio.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/image_classifier.h"
#include "defectkit/inspector.h"
#include "tool_args.h"

namespace fs = std::filesystem;
namespace tools = defectkit::tools;

namespace {

const char* kUsage =
    "usage: defectkit-infer ARTIFACT INPUT... [--out DIR] [--threads N] [--provider cpu|cuda|tensorrt|openvino]\n"
    "                       [--provider-option KEY=VALUE]... [--pixel-threshold T] [--verify] [--sha256 HEX]\n"
    "                       reference_unet: [--roi] [--image-threshold T]   guided_classifier: [--defect-threshold T]\n"
    "  The artifact's family decides what INPUT is and what is written (default DIR: .):\n"
    "  reference_unet (strip TIFFs): DIR/<stem>_heatmap.tif, the heatmap as a float32 H x W TIFF, and\n"
    "    DIR/results.csv: path,score,is_defective,n_regions,largest_region_area,max_peak,image_threshold,\n"
    "    pixel_threshold,heatmap,ms\n"
    "  guided_classifier (PNG, JPEG or TIFF images, by content): DIR/<stem>_mask.tif, the defect mask as a\n"
    "    float32 H x W TIFF at the image's size (values 0..1: a grey PNG would lose them), and DIR/results.csv:\n"
    "    path,defect_probability,is_defective,class,class_probability,n_regions,largest_region_area,max_peak,\n"
    "    defect_threshold,pixel_threshold,mask,ms (class: the most probable class's name)\n"
    "  --provider-option KEY=VALUE (repeatable): an option of the openvino provider, e.g.\n"
    "    reshape_input=strip[1,4,976,176] to fix a strip artifact's input shape (docs/NATIVE.md)\n"
    "  --verify: check the artifact's SHA-256 against export_report.json beside it (or --sha256 HEX) first\n";

// "<stem><suffix>", or "<folder>_<stem><suffix>" (then a counter) when an earlier input of this run
// already took that name, so no map overwrites another (MVTec layouts repeat stems: good/000, blob/000).
std::string unique_name(const fs::path& input, const std::string& suffix, std::set<std::string>& written) {
  std::string name = input.stem().string() + suffix;
  if (written.count(name)) name = input.parent_path().filename().string() + "_" + name;
  for (int k = 2; written.count(name); ++k) name = input.stem().string() + "_" + std::to_string(k) + suffix;
  written.insert(name);
  return name;
}

// One page, one float32 sample per pixel, row by row.
void write_float_tiff(const std::string& path, const std::vector<float>& map, int height, int width) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  if (tif == nullptr) throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, path + ": cannot write");
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
  bool ok = true;
  for (int y = 0; y < height && ok; ++y) {
    ok = TIFFWriteScanline(tif, const_cast<float*>(map.data() + static_cast<size_t>(y) * width), y, 0) >= 0;
  }
  TIFFClose(tif);
  if (!ok) throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, path + ": writing the map failed");
}

// RFC 4180: a field with a comma, quote or newline is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The largest region's area and the highest peak.
template <typename Result>
std::pair<int, float> largest_and_peak(const Result& r) {
  int largest = 0;
  float peak = 0.0f;
  for (const auto& region : r.regions) largest = std::max(largest, region.area), peak = std::max(peak, region.peak);
  return {largest, peak};
}

// Runs `one(input, written)` per input, printing failures; returns how many failed.
template <typename Fn>
int for_each_input(const tools::Args& args, Fn&& one) {
  int failures = 0;
  std::set<std::string> written;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    try {
      one(args.positional[i], written);
    } catch (const defectkit::Error& e) {
      tools::print_error(e);
      ++failures;
    }
  }
  return failures;
}

int infer_strips(const tools::Args& args, const fs::path& out) {
  const auto inspector = defectkit::Inspector::open(args.positional[0], tools::inspector_options(args));
  defectkit::InspectOptions call;
  call.roi = args.has("--roi");
  if (args.has("--image-threshold")) call.image_threshold = args.real("--image-threshold", 0.0f);
  if (args.has("--pixel-threshold")) call.pixel_threshold = args.real("--pixel-threshold", 0.0f);
  std::ofstream csv(out / "results.csv");
  csv << "path,score,is_defective,n_regions,largest_region_area,max_peak,image_threshold,pixel_threshold,heatmap,"
         "ms\n";
  return for_each_input(args, [&](const std::string& strip, std::set<std::string>& written) {
    const auto start = std::chrono::steady_clock::now();
    const defectkit::Inspection r = inspector.inspect(strip, call);
    const double ms = ms_since(start);
    const fs::path heatmap = out / unique_name(fs::path(strip), "_heatmap.tif", written);
    write_float_tiff(heatmap.string(), r.heatmap, r.height, r.width);
    const auto [largest, peak] = largest_and_peak(r);
    char line[512];
    std::snprintf(line, sizeof line, "%.6f,%d,%zu,%d,%.6f,%.6f,%.6f,%s,%.3f", r.score, r.is_defective ? 1 : 0,
                  r.regions.size(), largest, peak, r.image_threshold, r.pixel_threshold,
                  csv_field(heatmap.string()).c_str(), ms);
    csv << csv_field(strip) << "," << line << "\n";
    std::printf("%s: score %.4f %s, %zu regions, %.1f ms\n", strip.c_str(), r.score,
                r.is_defective ? "DEFECTIVE" : "ok", r.regions.size(), ms);
  });
}

int infer_images(const tools::Args& args, const fs::path& out) {
  const auto classifier = defectkit::ImageClassifier::open(args.positional[0], tools::classifier_options(args));
  defectkit::ClassifyOptions call;
  if (args.has("--defect-threshold")) call.defect_threshold = args.real("--defect-threshold", 0.0f);
  if (args.has("--pixel-threshold")) call.pixel_threshold = args.real("--pixel-threshold", 0.0f);
  std::ofstream csv(out / "results.csv");
  csv << "path,defect_probability,is_defective,class,class_probability,n_regions,largest_region_area,max_peak,"
         "defect_threshold,pixel_threshold,mask,ms\n";
  return for_each_input(args, [&](const std::string& image, std::set<std::string>& written) {
    const auto start = std::chrono::steady_clock::now();
    const defectkit::Classification r = classifier.classify(image, call);
    const double ms = ms_since(start);
    const fs::path mask = out / unique_name(fs::path(image), "_mask.tif", written);
    write_float_tiff(mask.string(), r.mask, r.height, r.width);
    const auto [largest, peak] = largest_and_peak(r);
    const std::string& top = r.classes[r.top_class];
    char decision[64], numbers[256], time[32];
    std::snprintf(decision, sizeof decision, "%.6f,%d", r.defect_probability, r.is_defective ? 1 : 0);
    std::snprintf(numbers, sizeof numbers, "%.6f,%zu,%d,%.6f,%.6f,%.6f", r.probabilities[r.top_class], r.regions.size(),
                  largest, peak, r.defect_threshold, r.pixel_threshold);
    std::snprintf(time, sizeof time, "%.3f", ms);
    csv << csv_field(image) << "," << decision << "," << csv_field(top) << "," << numbers << ","
        << csv_field(mask.string()) << "," << time << "\n";
    std::printf("%s: defect %.4f %s, class %s, %zu regions, %.1f ms\n", image.c_str(), r.defect_probability,
                r.is_defective ? "DEFECTIVE" : "ok", top.c_str(), r.regions.size(), ms);
  });
}

}  // namespace

int main(int argc, char** argv) {
  return tools::run_tool(kUsage, [&] {
    const auto args = tools::parse_args(argc, argv,
                                        {"--out", "--threads", "--provider", "--provider-option", "--image-threshold", "--defect-threshold",
                                         "--pixel-threshold", "--sha256"},
                                        {"--roi", "--verify", "--help"});
    if (args.has("--help") || args.positional.size() < 2) {
      std::fputs(kUsage, args.has("--help") ? stdout : stderr);
      return args.has("--help") ? 0 : 2;
    }
    const std::string& artifact = args.positional[0];
    tools::verify_if_asked(args, artifact);
    const bool images = tools::artifact_family(artifact, tools::model_options(args)) == tools::kClassifierFamily;
    const std::vector<std::string> other_family = images ? std::vector<std::string>{"--roi", "--image-threshold"}
                                                         : std::vector<std::string>{"--defect-threshold"};
    for (const auto& option : other_family) {
      if (args.has(option))
        throw std::invalid_argument(option + " does not apply to a " +
                                    (images ? std::string(tools::kClassifierFamily) : "strip") + " artifact");
    }
    const fs::path out = args.text("--out", ".");
    fs::create_directories(out);
    const int failures = images ? infer_images(args, out) : infer_strips(args, out);
    std::printf("wrote %s\n", (out / "results.csv").string().c_str());
    return failures == 0 ? 0 : 1;
  });
}
