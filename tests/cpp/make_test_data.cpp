// defectkit_test_data DIR: writes the artifacts and strips that the C test,
// the tools' tests and the line-controller test run on (a CTest fixture):
//   DIR/patch.onnx  patch artifact, patch 16, overlap 4 (heatmap: see artifact_fixtures.h)
//   DIR/tiled.onnx  tiled artifact taking 37 x 29 strips (heatmap = target / 255)
//   DIR/strip_0.tif, strip_1.tif  4-channel float32 37 x 29 strips, values
//       channel c < 3: (c * 50 + y * 13 + x * 29 + k * 40) % 256 for strip k;
//       channel 3: 0 where (y / 5 + x / 4) % 3 == 0, else 1 (an ROI)
//   DIR/strips.txt  the two strip paths, one a line
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "artifact_fixtures.h"
#include "onnx_builder.h"
#include "tiff_fixtures.h"

namespace dt = defectkit::testing;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    dt::ArtifactSpec patch;
    patch.height = 37;
    patch.width = 29;
    dt::ArtifactSpec tiled = patch;
    tiled.graph = "tiled";
    for (const auto& [spec, name] : {std::pair{patch, "patch.onnx"}, std::pair{tiled, "tiled.onnx"}}) {
      // write_artifact writes under its temp folder; copy it into DIR.
      std::ifstream in(dt::write_artifact(spec, name), std::ios::binary);
      std::ofstream(dir + "/" + name, std::ios::binary) << in.rdbuf();
    }
    std::ofstream list(dir + "/strips.txt");
    for (int k = 0; k < 2; ++k) {
      dt::TiffSpec tiff;
      tiff.type = dt::SampleType::kFloat32;
      tiff.channels = 4;
      tiff.height = 37;
      tiff.width = 29;
      const std::string path = dir + "/strip_" + std::to_string(k) + ".tif";
      dt::write_tiff(path, tiff, [k](int c, int y, int x) -> double {
        if (c == 3) return (y / 5 + x / 4) % 3 == 0 ? 0.0 : 1.0;
        return (c * 50 + y * 13 + x * 29 + k * 40) % 256;
      });
      list << path << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
