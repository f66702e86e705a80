// What the tools share: parsing positional arguments and `--name value` /
// `--flag` options, and the one try/catch around each main().
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/image_classifier.h"
#include "defectkit/inspector.h"
#include "defectkit/integrity.h"

namespace defectkit::tools {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--runs" -> "100" (the last given); flags map to ""
  std::vector<std::pair<std::string, std::string>> given;  // every valued option in order (repeatable ones)

  std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> values;
    for (const auto& [key, value] : given)
      if (key == name) values.push_back(value);
    return values;
  }

  bool has(const std::string& name) const { return options.count(name) != 0; }
  std::string text(const std::string& name, const std::string& fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  int integer(const std::string& name, int fallback) const {
    if (!has(name)) return fallback;
    char* end = nullptr;
    const long v = std::strtol(options.at(name).c_str(), &end, 10);
    if (end == options.at(name).c_str() || *end != '\0') throw std::invalid_argument(name + " needs an integer");
    return static_cast<int>(v);
  }
  float real(const std::string& name, float fallback) const {
    if (!has(name)) return fallback;
    char* end = nullptr;
    const float v = std::strtof(options.at(name).c_str(), &end);
    if (end == options.at(name).c_str() || *end != '\0') throw std::invalid_argument(name + " needs a number");
    return v;
  }
};

// `valued` options take the next argument; `flags` take none; anything else
// starting with "--" is an error.
inline Args parse_args(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      args.positional.push_back(a);
    } else if (flags.count(a)) {
      args.options[a] = "";
    } else if (valued.count(a)) {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      args.options[a] = argv[++i];
      args.given.emplace_back(a, argv[i]);
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  return args;
}

// The session options both tools share: --threads, --provider and any
// number of --provider-option KEY=VALUE (the openvino provider's options).
inline ModelOptions model_options(const Args& args) {
  ModelOptions options;
  options.intra_op_threads = args.integer("--threads", 0);
  options.execution_provider = args.text("--provider", "cpu");
  for (const std::string& pair : args.all("--provider-option")) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--provider-option needs KEY=VALUE, got '" + pair + "'");
    options.provider_options[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return options;
}

inline InspectorOptions inspector_options(const Args& args) {
  InspectorOptions options;
  options.model = model_options(args);
  return options;
}

inline ImageClassifierOptions classifier_options(const Args& args) {
  ImageClassifierOptions options;
  options.model = model_options(args);
  return options;
}

// --verify / --sha256 HEX: the artifact's SHA-256, checked once, before
// anything reads it (a corrupted file then reports its digest, not a parse
// error), so the heads open it without checking again.
inline void verify_if_asked(const Args& args, const std::string& artifact) {
  if (args.has("--verify") || args.has("--sha256")) verify_sha256(artifact, args.text("--sha256", ""));
}

// The artifact's family, from its metadata (a quick session: no optimisation),
// so a tool can open the head that runs it.
inline std::string artifact_family(const std::string& artifact, const ModelOptions& options) {
  return read_artifact_metadata(artifact, options).family;
}

constexpr const char* kClassifierFamily = "guided_classifier";

inline void print_error(const defectkit::Error& e) {
  std::fprintf(stderr, "error (%s): %s\n", defectkit::error_code_name(e.code()), e.what());
}

// Runs a tool's body: a defectkit::Error prints its code and message (exit
// 1); any other exception is a usage mistake and prints the usage (exit 2).
template <typename Body>
int run_tool(const char* usage, Body&& body) {
  try {
    return body();
  } catch (const defectkit::Error& e) {
    print_error(e);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n%s", e.what(), usage);
    return 2;
  }
}

}  // namespace defectkit::tools
