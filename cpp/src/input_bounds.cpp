#include "defectkit/input_bounds.h"

#include <cctype>
#include <string>

#include "defectkit/error.h"

namespace defectkit {
namespace {

std::string trim(const std::string& s) {
  const char* space = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

[[noreturn]] void refuse(const std::string& value, const std::string& fault) {
  throw Error(ErrorCode::kInvalidArgument,
              "provider option reshape_input '" + value + "': " + fault +
                  " (expected entries like name[1,224,224,3] or name[1..4,3], separated by commas)");
}

// A positive size that fits int64; "" or anything else is refused.
int64_t size_of(const std::string& text, const std::string& value, const std::string& name) {
  bool digits = !text.empty() && text.size() <= 18;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  const int64_t size = digits ? std::stoll(text) : 0;
  if (size <= 0) refuse(value, "dimension '" + text + "' of '" + name + "' is not a positive integer");
  return size;
}

DimensionBound dimension_of(const std::string& raw, const std::string& value, const std::string& name) {
  const std::string text = trim(raw);
  const size_t range = text.find("..");
  if (range == std::string::npos) {
    const int64_t size = size_of(text, value, name);
    return {size, size};
  }
  const DimensionBound bound{size_of(trim(text.substr(0, range)), value, name),
                             size_of(trim(text.substr(range + 2)), value, name)};
  if (bound.min > bound.max) refuse(value, "range '" + text + "' of '" + name + "' runs backwards");
  return bound;
}

}  // namespace

InputBounds parse_reshape_input(const std::string& value) {
  InputBounds out;
  size_t at = 0;
  if (trim(value).empty()) refuse(value, "empty");
  while (at < value.size()) {
    const size_t open = value.find('[', at);
    if (open == std::string::npos) refuse(value, "no '[' after '" + trim(value.substr(at)) + "'");
    const size_t close = value.find(']', open);
    if (close == std::string::npos) refuse(value, "no ']' closes the '[' at " + std::to_string(open));
    const std::string name = trim(value.substr(at, open - at));
    if (name.empty() || name.find_first_of("[],") != std::string::npos) {
      refuse(value, "an entry has no tensor name before its '['");
    }
    if (out.count(name)) refuse(value, "'" + name + "' is given twice");
    std::vector<DimensionBound> bounds;
    const std::string dims = value.substr(open + 1, close - open - 1);
    if (trim(dims).empty()) refuse(value, "'" + name + "' has no dimensions");
    size_t start = 0;
    for (size_t comma = dims.find(','); ; comma = dims.find(',', start)) {
      bounds.push_back(dimension_of(dims.substr(start, comma - start), value, name));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    out[name] = bounds;
    at = value.find_first_not_of(" \t\n\r\f\v", close + 1);
    if (at == std::string::npos) break;
    if (value[at] != ',') refuse(value, "expected ',' between entries, got '" + value.substr(at, 1) + "'");
    ++at;
    if (trim(value.substr(at)).empty()) refuse(value, "a ',' ends it");
  }
  return out;
}

bool within_bounds(const std::vector<int64_t>& shape, const std::vector<DimensionBound>& bounds) {
  if (shape.size() != bounds.size()) return false;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < bounds[d].min || shape[d] > bounds[d].max) return false;
  }
  return true;
}

std::string bounds_string(const std::vector<DimensionBound>& bounds) {
  std::string out = "[";
  for (size_t d = 0; d < bounds.size(); ++d) {
    out += d ? ", " : "";
    out += std::to_string(bounds[d].min);
    if (bounds[d].max != bounds[d].min) out += ".." + std::to_string(bounds[d].max);
  }
  return out + "]";
}

}  // namespace defectkit
