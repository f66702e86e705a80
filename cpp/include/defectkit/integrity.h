// defectkit integrity — SHA-256 of artifact files, checked against the digest
// the exporter records in export_report.json beside the artifact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace defectkit {

// Returns the SHA-256 of `size` bytes at `data` as 64 lower-case hex digits. Thread-safe.
std::string sha256_hex(const void* data, size_t size);

// Returns the SHA-256 of the file at `path`, read in 1 MiB chunks. Throws
// Error(kFileNotFound) when it cannot be read. Thread-safe.
std::string sha256_file(const std::string& path);

// Returns the digest recorded for `artifact_path` in the export_report.json of
// its folder ({"files": {"<file name>": {"sha256": "<hex>"}}}). Throws
// Error(kModel) naming both files when the report is missing, malformed or
// has no digest for this file. Thread-safe.
std::string recorded_sha256(const std::string& artifact_path);

// Checks that the file at `artifact_path` hashes to `expected_hex` (64 hex
// digits, any case), or, when `expected_hex` is empty, to recorded_sha256().
// Throws Error(kModel) naming the file and both digests on a mismatch,
// Error(kInvalidArgument) for an `expected_hex` that is not a SHA-256 digest.
void verify_sha256(const std::string& artifact_path, const std::string& expected_hex = "");

}  // namespace defectkit
