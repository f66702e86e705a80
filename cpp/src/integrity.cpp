// SHA-256 per FIPS 180-4, written out here (about 60 lines) rather than
// taken from OpenSSL: the static core, the Python wheel and the installed
// CMake package then need no new dependency for one hash over a file that
// is read once per artifact load. Checked against the NIST test vectors in
// tests/cpp/test_integrity.cpp.
#include "defectkit/integrity.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "defectkit/error.h"

namespace defectkit {
namespace {

constexpr std::array<uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

class Sha256 {
 public:
  void update(const unsigned char* data, size_t size) {
    total_bytes_ += size;
    while (size > 0) {
      const size_t take = std::min(size, sizeof block_ - used_);
      std::memcpy(block_ + used_, data, take);
      used_ += take;
      data += take;
      size -= take;
      if (used_ == sizeof block_) {
        compress();
        used_ = 0;
      }
    }
  }

  std::string hex_digest() {
    const uint64_t bits = total_bytes_ * 8;
    const unsigned char one = 0x80, zero = 0;
    update(&one, 1);
    while (used_ != 56) update(&zero, 1);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(length, 8);
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    for (uint32_t word : state_) {
      for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(word >> shift) & 0xf];
    }
    return out;
  }

 private:
  void compress() {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = uint32_t{block_[4 * i]} << 24 | uint32_t{block_[4 * i + 1]} << 16 | uint32_t{block_[4 * i + 2]} << 8 |
             uint32_t{block_[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRoundConstants[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    const uint32_t add[8] = {a, b, c, d, e, f, g, h};
    for (int i = 0; i < 8; ++i) state_[i] += add[i];
  }

  std::array<uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64] = {};
  size_t used_ = 0;
  uint64_t total_bytes_ = 0;
};

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string sha256_hex(const void* data, size_t size) {
  Sha256 hash;
  hash.update(static_cast<const unsigned char*>(data), size);
  return hash.hex_digest();
}

std::string sha256_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorCode::kFileNotFound, path + ": cannot open it to check its SHA-256");
  Sha256 hash;
  std::vector<unsigned char> chunk(size_t{1} << 20);
  size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) hash.update(chunk.data(), got);
  if (std::ferror(file.get())) throw Error(ErrorCode::kFileNotFound, path + ": read error while hashing it");
  return hash.hex_digest();
}

std::string recorded_sha256(const std::string& artifact_path) {
  namespace fs = std::filesystem;
  const fs::path artifact(artifact_path);
  const std::string report = (artifact.parent_path() / "export_report.json").string();
  const std::string name = artifact.filename().string();
  std::ifstream in(report, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kModel, artifact_path + ": cannot verify it: no export report at " + report +
                                       " (pass the expected SHA-256 explicitly instead)");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModel, artifact_path + ": cannot verify it: " + report + " is not valid JSON: " + e.what());
  }
  const nlohmann::json* digest = nullptr;
  if (j.is_object() && j.contains("files") && j["files"].is_object() && j["files"].contains(name) &&
      j["files"][name].is_object() && j["files"][name].contains("sha256")) {
    digest = &j["files"][name]["sha256"];
  }
  if (digest == nullptr || !digest->is_string() || !is_sha256_hex(digest->get<std::string>())) {
    throw Error(ErrorCode::kModel,
                artifact_path + ": cannot verify it: " + report + " records no SHA-256 for files." + name);
  }
  return lower(digest->get<std::string>());
}

void verify_sha256(const std::string& artifact_path, const std::string& expected_hex) {
  if (!expected_hex.empty() && !is_sha256_hex(expected_hex)) {
    throw Error(ErrorCode::kInvalidArgument, "expected SHA-256 '" + expected_hex + "' is not 64 hexadecimal digits");
  }
  const std::string actual = sha256_file(artifact_path);  // first: a missing file is kFileNotFound, not kModel
  const std::string expected = expected_hex.empty() ? recorded_sha256(artifact_path) : lower(expected_hex);
  if (actual != expected) {
    throw Error(ErrorCode::kModel, artifact_path + ": SHA-256 mismatch: the file hashes to " + actual + " but " +
                                       expected + " was expected (corrupted or replaced artifact)");
  }
}

}  // namespace defectkit
