// defectkit_fuzz_seeds DIR: writes the seed corpora of the fuzz harnesses,
// from the same fixture code the reader and artifact tests use:
//   DIR/strip_reader/       small TIFFs in every layout, sample type,
//                           compression, byte order and classic/BigTIFF
//                           StripReader reads, plus hand-built headers
//   DIR/artifact_metadata/  the metadata of every kind of test artifact, in
//                           format 1 and format 2, and of the two-input
//                           session artifact, as "key=value" lines (the
//                           harness's input format; JSON values on one line)
#include <tiffio.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "artifact_fixtures.h"
#include "tiff_fixtures.h"

namespace dt = defectkit::testing;
namespace fs = std::filesystem;

namespace {

void write_strip_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  const dt::SampleType types[] = {dt::SampleType::kUint8, dt::SampleType::kUint16, dt::SampleType::kFloat32,
                                  dt::SampleType::kFloat64};
  const dt::Layout layouts[] = {dt::Layout::kPlanar, dt::Layout::kContig, dt::Layout::kPages};
  const uint16_t compressions[] = {COMPRESSION_NONE, COMPRESSION_LZW, COMPRESSION_ADOBE_DEFLATE, COMPRESSION_PACKBITS};
  const char* modes[] = {"wl", "wb", "w8", "wb8"};
  int k = 0;
  for (const auto type : types) {
    for (const auto layout : layouts) {
      // Small images keep each execution fast; the variety is in the tags.
      dt::TiffSpec spec;
      spec.type = type;
      spec.layout = layout;
      spec.channels = 3 + k % 2;
      spec.height = 9;
      spec.width = 11;
      spec.rows_per_strip = 4;
      spec.compression = compressions[k % 4];
      spec.mode = modes[(k / 2) % 4];
      spec.tiled = k % 3 == 0;
      spec.tile_width = 16;
      spec.tile_height = 16;
      dt::write_tiff((dir / ("seed_" + std::to_string(k) + ".tif")).string(), spec);
      ++k;
    }
  }
  dt::RawTiff raw;  // a hand-built header: one uncompressed contiguous strip
  dt::write_bytes((dir / "raw_uint8.tif").string(), raw.bytes());
  raw.bits = 16;
  raw.strip_byte_count = 10;  // shorter than the image: a truncated strip
  dt::write_bytes((dir / "raw_short_strip.tif").string(), raw.bytes());
}

// One seed: "key=value" lines, keys without the prefix, JSON values compacted to one line.
void write_metadata_seed(const fs::path& file, const std::map<std::string, std::string>& metadata) {
  std::ofstream out(file, std::ios::binary);
  for (const auto& [key, value] : metadata) {
    std::string line = value;
    if (line.find('\n') != std::string::npos) line = nlohmann::json::parse(value).dump();
    out << key.substr(std::string("defectkit.").size()) << "=" << line << "\n";
  }
}

void write_metadata_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  dt::ArtifactSpec patch;
  dt::ArtifactSpec tiled;
  tiled.graph = "tiled";
  dt::ArtifactSpec full = tiled;
  full.graph = "full_frame";
  full.graph_score = false;
  dt::ArtifactSpec roi = patch;
  roi.roi = true;
  dt::ArtifactSpec seed3ch = tiled;
  seed3ch.seed3ch = true;
  const std::pair<dt::ArtifactSpec, const char*> specs[] = {
      {patch, "patch"}, {tiled, "tiled"}, {full, "full_frame"}, {roi, "roi"}, {seed3ch, "seed3ch"}};
  for (auto [spec, name] : specs) {
    write_metadata_seed(dir / (std::string(name) + ".txt"), dt::artifact_metadata(spec));
    spec.format_version = 2;
    write_metadata_seed(dir / (std::string(name) + "_v2.txt"), dt::artifact_metadata(spec));
  }
  write_metadata_seed(dir / "session_v2.txt", dt::session_artifact_metadata());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    write_strip_seeds(fs::path(argv[1]) / "strip_reader");
    write_metadata_seeds(fs::path(argv[1]) / "artifact_metadata");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
