// defectkit-infer ARTIFACT STRIP... [--out DIR]: inspects strips with the
// native runtime; writes each heatmap as a float32 TIFF and a CSV of scores,
// decisions and regions. Exit code 0 when every strip was inspected.
#include <tiffio.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "tool_args.h"

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: defectkit-infer ARTIFACT STRIP... [--out DIR] [--threads N] [--provider cpu|cuda|tensorrt|openvino]\n"
    "                       [--roi] [--image-threshold T] [--pixel-threshold T] [--verify] [--sha256 HEX]\n"
    "  writes DIR/<strip stem>_heatmap.tif (float32, H x W) and DIR/results.csv (default DIR: .)\n"
    "  --verify: check the artifact's SHA-256 against export_report.json beside it (or --sha256 HEX) first\n";

// One page, one float32 sample per pixel, row by row.
// "<stem>_heatmap.tif", or "<folder>_<stem>_heatmap.tif" (then a counter) when an earlier strip of
// this run already took that name, so no heatmap overwrites another.
std::string unique_heatmap_name(const fs::path& strip, std::set<std::string>& written) {
  std::string name = strip.stem().string() + "_heatmap.tif";
  if (written.count(name)) name = strip.parent_path().filename().string() + "_" + name;
  for (int k = 2; written.count(name); ++k) name = strip.stem().string() + "_" + std::to_string(k) + "_heatmap.tif";
  written.insert(name);
  return name;
}

void write_heatmap_tiff(const std::string& path, const defectkit::Inspection& r) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  if (tif == nullptr) throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, path + ": cannot write");
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(r.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(r.height));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
  bool ok = true;
  for (int y = 0; y < r.height && ok; ++y) {
    ok = TIFFWriteScanline(tif, const_cast<float*>(r.heatmap.data() + static_cast<size_t>(y) * r.width), y, 0) >= 0;
  }
  TIFFClose(tif);
  if (!ok) throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, path + ": writing the heatmap failed");
}

// RFC 4180: a field with a comma, quote or newline is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  return defectkit::tools::run_tool(kUsage, [&] {
    const auto args = defectkit::tools::parse_args(
        argc, argv, {"--out", "--threads", "--provider", "--image-threshold", "--pixel-threshold", "--sha256"},
        {"--roi", "--verify", "--help"});
    if (args.has("--help") || args.positional.size() < 2) {
      std::fputs(kUsage, args.has("--help") ? stdout : stderr);
      return args.has("--help") ? 0 : 2;
    }
    const auto inspector = defectkit::Inspector::open(args.positional[0], defectkit::tools::inspector_options(args));
    defectkit::InspectOptions call;
    call.roi = args.has("--roi");
    if (args.has("--image-threshold")) call.image_threshold = args.real("--image-threshold", 0.0f);
    if (args.has("--pixel-threshold")) call.pixel_threshold = args.real("--pixel-threshold", 0.0f);

    const fs::path out = args.text("--out", ".");
    fs::create_directories(out);
    std::ofstream csv(out / "results.csv");
    csv << "path,score,is_defective,n_regions,largest_region_area,max_peak,image_threshold,pixel_threshold,heatmap,"
           "ms\n";
    int failures = 0;
    std::set<std::string> written;  // MVTec layouts repeat stems across categories (good/000, blob/000)
    for (size_t i = 1; i < args.positional.size(); ++i) {
      const std::string& strip = args.positional[i];
      try {
        const auto start = std::chrono::steady_clock::now();
        const defectkit::Inspection r = inspector.inspect(strip, call);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        const fs::path heatmap = out / unique_heatmap_name(fs::path(strip), written);
        write_heatmap_tiff(heatmap.string(), r);
        int largest = 0;
        float peak = 0.0f;
        for (const auto& region : r.regions)
          largest = std::max(largest, region.area), peak = std::max(peak, region.peak);
        char line[512];
        std::snprintf(line, sizeof line, "%.6f,%d,%zu,%d,%.6f,%.6f,%.6f,%s,%.3f", r.score, r.is_defective ? 1 : 0,
                      r.regions.size(), largest, peak, r.image_threshold, r.pixel_threshold,
                      csv_field(heatmap.string()).c_str(), ms);
        csv << csv_field(strip) << "," << line << "\n";
        std::printf("%s: score %.4f %s, %zu regions, %.1f ms\n", strip.c_str(), r.score,
                    r.is_defective ? "DEFECTIVE" : "ok", r.regions.size(), ms);
      } catch (const defectkit::Error& e) {
        defectkit::tools::print_error(e);
        ++failures;
      }
    }
    std::printf("wrote %s\n", (out / "results.csv").string().c_str());
    return failures == 0 ? 0 : 1;
  });
}
