// What the C API's source files share: the thread's last error, the guard
// that turns every C++ exception into a dk_status, argument checks.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "defectkit/defectkit_c.h"
#include "defectkit/error.h"
#include "defectkit/model.h"

namespace defectkit::c_api {

// The message dk_last_error() returns for this thread.
std::string& last_error();

// Runs `fn`, catching everything: Error -> its code, bad_alloc and the rest -> DK_INTERNAL.
template <typename Fn>
dk_status guarded(Fn&& fn) noexcept {
  try {
    last_error().clear();
    fn();
    return DK_OK;
  } catch (const Error& e) {
    last_error() = e.what();
    return static_cast<dk_status>(e.code());
  } catch (const std::bad_alloc&) {
    last_error() = "out of memory";
  } catch (const std::exception& e) {
    last_error() = e.what();
  } catch (...) {
    last_error() = "unknown error";
  }
  return DK_INTERNAL;
}

// Error(kInvalidArgument, what) unless `ok`.
inline void require(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorCode::kInvalidArgument, what);
}

// The int a C caller passed for an enum, read as bytes (no enum load: in C++
// merely reading an enum outside its range is undefined; UBSan: "load of
// value 7, which is not a valid value for type 'dk_dtype'").
template <typename Enum>
int raw_enum(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized");
  int raw = 0;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

// The session fields of dk_inspector_options (NULL: the defaults).
ModelOptions model_options(const dk_inspector_options* o);

}  // namespace defectkit::c_api
