// Artifact integrity: SHA-256 against the NIST vectors, the digest recorded
// in export_report.json, and Inspector::open refusing a corrupted artifact.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "artifact_fixtures.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/integrity.h"
#include "tiff_fixtures.h"

namespace dt = defectkit::testing;
namespace fs = std::filesystem;
using defectkit::Error;
using defectkit::ErrorCode;

namespace {

// Writes an artifact into its own folder with an export report beside it.
std::string artifact_with_report(const std::string& folder, const std::string& digest) {
  const fs::path dir = dt::temp_path(folder);
  fs::create_directories(dir);
  const fs::path artifact = dir / "model_fp32.onnx";
  fs::copy_file(dt::write_artifact({}, folder + ".onnx"), artifact, fs::copy_options::overwrite_existing);
  std::ofstream(dir / "export_report.json")
      << "{\"files\": {\"model_fp32.onnx\": {\"sha256\": \"" + digest + "\", \"bytes\": 1}}}";
  return artifact.string();
}

ErrorCode code_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ErrorCode::kOk;
}

}  // namespace

TEST(Sha256, MatchesTheNistVectors) {
  EXPECT_EQ(defectkit::sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(defectkit::sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(defectkit::sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(defectkit::sha256_hex(million.data(), million.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const std::string path = dt::temp_path("million_a.bin");
  std::ofstream(path, std::ios::binary) << million;
  EXPECT_EQ(defectkit::sha256_file(path), defectkit::sha256_hex(million.data(), million.size()));
}

TEST(Integrity, VerifiesAgainstTheExportReportAndRefusesACorruptedFile) {
  const std::string probe = dt::write_artifact({}, "integrity_probe.onnx");
  const std::string digest = defectkit::sha256_file(probe);
  const std::string artifact = artifact_with_report("integrity_ok", digest);
  EXPECT_EQ(defectkit::recorded_sha256(artifact), digest);
  EXPECT_NO_THROW(defectkit::verify_sha256(artifact));
  defectkit::InspectorOptions options;
  options.verify = true;
  EXPECT_NO_THROW(defectkit::Inspector::open(artifact, options));

  // One flipped byte in the middle of the file.
  auto bytes = dt::read_bytes(artifact);
  bytes[bytes.size() / 2] ^= 0x01;
  dt::write_bytes(artifact, bytes);
  std::string message;
  EXPECT_EQ(code_of([&] { defectkit::Inspector::open(artifact, options); }, &message), ErrorCode::kModel);
  EXPECT_NE(message.find(artifact + ": SHA-256 mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find(digest + " was expected"), std::string::npos) << message;
  // Without verify, the flipped byte may well load: that is what verify is for.
}

TEST(Integrity, AnExplicitDigestNeedsNoReport) {
  const std::string artifact = dt::write_artifact({}, "integrity_explicit.onnx");
  std::string digest = defectkit::sha256_file(artifact);
  defectkit::InspectorOptions options;
  for (char& c : digest) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));  // any case
  options.expected_sha256 = digest;
  EXPECT_NO_THROW(defectkit::Inspector::open(artifact, options));
  options.expected_sha256 = std::string(64, '0');
  EXPECT_EQ(code_of([&] { defectkit::Inspector::open(artifact, options); }), ErrorCode::kModel);
  options.expected_sha256 = "abc123";
  std::string message;
  EXPECT_EQ(code_of([&] { defectkit::Inspector::open(artifact, options); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("not 64 hexadecimal digits"), std::string::npos) << message;
}

TEST(Integrity, AMissingOrIncompleteReportIsAClearModelError) {
  const fs::path dir = dt::temp_path("integrity_no_report");
  fs::create_directories(dir);
  const std::string artifact = (dir / "model_fp32.onnx").string();
  fs::copy_file(dt::write_artifact({}, "integrity_src.onnx"), artifact, fs::copy_options::overwrite_existing);
  std::string message;
  EXPECT_EQ(code_of([&] { defectkit::verify_sha256(artifact); }, &message), ErrorCode::kModel);
  EXPECT_NE(message.find("no export report at " + (dir / "export_report.json").string()), std::string::npos) << message;
  std::ofstream(dir / "export_report.json") << "{\"files\": {\"other.onnx\": {\"sha256\": \"00\"}}}";
  EXPECT_EQ(code_of([&] { defectkit::verify_sha256(artifact); }, &message), ErrorCode::kModel);
  EXPECT_NE(message.find("records no SHA-256 for files.model_fp32.onnx"), std::string::npos) << message;
  std::ofstream(dir / "export_report.json") << "{not json";
  EXPECT_EQ(code_of([&] { defectkit::verify_sha256(artifact); }, &message), ErrorCode::kModel);
  EXPECT_NE(message.find("is not valid JSON"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { defectkit::verify_sha256((dir / "missing.onnx").string()); }), ErrorCode::kFileNotFound);
}
