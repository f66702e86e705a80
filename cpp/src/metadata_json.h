// Reading an artifact's `defectkit.` metadata: JSON values typed and
// range-checked, every failure Error(kModel) naming the file and the key.
// Private to the runtime (nlohmann/json never reaches a public header).
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "defectkit/error.h"

namespace defectkit::detail {

using Json = nlohmann::json;
constexpr const char* kMetadataPrefix = "defectkit.";

// A JSON value for a message, cut short: fuzzed metadata can hold megabytes
// (and, in strings not parsed from JSON, bytes that are not UTF-8).
inline std::string brief(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() <= 80 ? text : text.substr(0, 77) + "...";
}

// Typed members of JSON objects. `key` is the member's full dotted name for
// messages ("defectkit.tiling.patch"); "has no" messages name its parent.
class JsonFields {
 public:
  explicit JsonFields(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorCode::kModel, path_ + ": " + what); }

  const std::string& path() const { return path_; }

  // object[field] as T. Numbers are range-checked first: nlohmann's get<int>() / get<float>()
  // static_cast out-of-range values, which is undefined behaviour for floats (found by the
  // metadata fuzzer: 1e300 as a tile position).
  template <typename T>
  T member(const Json& object, const std::string& field, const std::string& key) const {
    if (!object.is_object() || !object.contains(field)) {
      const size_t dot = key.rfind('.');
      fail(key.substr(0, dot) + " has no '" + field + "'");
    }
    const Json& value = object.at(field);
    if (!fits<T>(value)) fail(key + " has the wrong type: " + brief(value));
    try {
      return value.get<T>();
    } catch (const Json::exception&) {
      fail(key + " has the wrong type: " + brief(value));
    }
  }

  // As member(), with `fallback` when the field is absent or null.
  template <typename T>
  T member_or(const Json& object, const std::string& field, const std::string& key, T fallback) const {
    if (!object.is_object() || !object.contains(field) || object.at(field).is_null()) return fallback;
    return member<T>(object, field, key);
  }

  // Whether get<T>() is defined for `value`: numbers in T's range, and only numbers.
  template <typename T>
  static bool fits(const Json& value) {
    if constexpr (std::is_same_v<T, int>) {
      return fits_integer(value, INT32_MIN, INT32_MAX);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      return fits_integer(value, INT64_MIN, INT64_MAX);
    } else if constexpr (std::is_same_v<T, float>) {
      return value.is_number() && std::isfinite(value.get<double>()) && std::fabs(value.get<double>()) <= FLT_MAX;
    } else if constexpr (std::is_same_v<T, std::vector<int>>) {
      return value.is_array() && std::all_of(value.begin(), value.end(), [](const Json& v) { return fits<int>(v); });
    } else if constexpr (std::is_same_v<T, std::string>) {
      return value.is_string();
    } else {
      return true;  // lists of strings: get<T>() checks the type itself
    }
  }

 private:
  static bool fits_integer(const Json& value, int64_t low, int64_t high) {
    if (value.is_number_unsigned()) return value.get<uint64_t>() <= static_cast<uint64_t>(high);
    if (value.is_number_integer()) {
      const int64_t v = value.get<int64_t>();
      return v >= low && v <= high;
    }
    return false;  // floats, strings, ...: not an integer
  }

  std::string path_;
};

// The `defectkit.` keys of one file's metadata_props; `key` arguments omit the prefix.
class MetadataReader : public JsonFields {
 public:
  MetadataReader(const std::map<std::string, std::string>& props, const std::string& path)
      : JsonFields(path), props_(props) {}

  bool has(const std::string& key) const { return props_.count(kMetadataPrefix + key) != 0; }

  const std::string& text(const std::string& key) const {
    auto it = props_.find(kMetadataPrefix + key);
    if (it == props_.end()) fail("artifact metadata has no '" + std::string(kMetadataPrefix) + key + "'");
    return it->second;
  }

  Json json(const std::string& key) const {
    try {
      return Json::parse(text(key));
    } catch (const Json::exception& e) {
      fail(std::string(kMetadataPrefix) + key + " is not valid JSON: " + e.what());
    }
  }

  // A JSON object's verbatim text; anything else is refused.
  std::string object_text(const std::string& key) const {
    const Json value = json(key);
    if (!value.is_object()) fail(std::string(kMetadataPrefix) + key + " must be a JSON object, got " + brief(value));
    return text(key);
  }

 private:
  const std::map<std::string, std::string>& props_;
};

}  // namespace defectkit::detail
