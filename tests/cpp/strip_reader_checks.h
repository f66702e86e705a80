// What the StripReader tests share: a temporary folder per process, bit-exact value checks
// against what a TiffSpec wrote, and the checks that a read was refused with a given ErrorCode
// and a message that starts with the path (in this thread, another thread or a child process).
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "defectkit/error.h"
#include "defectkit/strip_reader.h"
#include "tiff_fixtures.h"

namespace defectkit::testing::strip_reader {

std::filesystem::path temp_dir();  // <temp>/defectkit_strip_tests_<pid>, removed by test_main.cpp
std::string temp_path(const std::string& name);  // a file in temp_dir(), which it creates

// Every value of `strip` equals what `spec` wrote, bit for bit (so -0.0 and
// float32 denormals count too).
void expect_values(const StripTensor& strip, const TiffSpec& spec, const ValueFn& values = {});

// Reading `path` throws Error(code) whose message starts with "<path>: " and
// contains `fragment`; returns the message.
std::string expect_refused(const std::string& path, ErrorCode code, const std::string& fragment,
                           const StripReaderOptions& options = {});

// What a call threw: the code and message of a defectkit::Error, kOk and "" if it returned;
// `problem` says why the call could not be made at all (the test then fails).
struct Refusal {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
  std::string problem;
};

Refusal refusal_of(const std::function<void()>& call);

// As expect_refused, for a Refusal obtained elsewhere (another thread or process).
void expect_refusal(const Refusal& got, const std::string& path, ErrorCode code, const std::string& fragment);

// StripReader().read(path) in a forked child that runs as uid and gid 65534 if this process is
// root (else as this user); the child sends back its Refusal through a pipe: the code as an int
// (-1: it could not drop root), then the message.
Refusal refusal_as_ordinary_user(const std::string& path);

}  // namespace defectkit::testing::strip_reader
