// Command-line parsing shared by the tools: positional arguments and
// `--name value` / `--flag` options, with errors that say what is wrong.
#pragma once

#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace defectkit::tools {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--runs" -> "100"; flags map to ""

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
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  return args;
}

}  // namespace defectkit::tools
