#include "defectkit/onnxruntime_loader.h"

#include <dlfcn.h>
#include <onnxruntime_cxx_api.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include "defectkit/error.h"

#ifndef DEFECTKIT_ORT_LIBRARY_DEFAULT
#define DEFECTKIT_ORT_LIBRARY_DEFAULT ""
#endif

// The onnxruntime wheel's library folder beside the installed defectkit
// package, or null. This weak default holds in every program that does not
// define the function; a program built against the installed CMake package
// compiles a strong definition that the package config generates at
// find_package time (cmake/defectkitConfig.cmake.in), which the linker
// prefers. So a line controller built against the wheel opens the wheel's
// ONNX Runtime without DEFECTKIT_ORT_LIBRARY, and the lookup happens when it
// runs (an upgraded onnxruntime wheel is found too).
extern "C" __attribute__((weak)) const char* defectkit_packaged_onnxruntime_dir() { return nullptr; }

namespace defectkit {
namespace {

std::mutex g_mutex;
std::unique_ptr<OnnxRuntimeInfo> g_info;  // set once, never freed: ORT stays loaded for the process

std::string canonical(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return path;
  std::string result(resolved);
  free(resolved);
  return result;
}

// The libonnxruntime.so* in `dir` with the longest name (libonnxruntime.so.1.32.0 is the real
// file; shorter names are links, if any), or "" when there is none.
std::string library_in(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  std::string best;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("libonnxruntime.so", 0) == 0 && it->is_regular_file(error) && name.size() > best.size()) {
      best = name;
    }
  }
  return best.empty() ? "" : (fs::path(dir) / best).string();
}

}  // namespace

const char* onnxruntime_source_name(OnnxRuntimeSource source) noexcept {
  switch (source) {
    case OnnxRuntimeSource::kOption:
      return "option";
    case OnnxRuntimeSource::kEnvironment:
      return "environment";
    case OnnxRuntimeSource::kPackage:
      return "package";
    case OnnxRuntimeSource::kBuildDefault:
      return "build default";
    case OnnxRuntimeSource::kSearchPath:
      return "search path";
  }
  return "unknown";
}

OnnxRuntimeLibrary resolve_onnxruntime_library(const std::string& requested) {
  if (!requested.empty()) return {requested, OnnxRuntimeSource::kOption};
  if (const char* env = std::getenv("DEFECTKIT_ORT_LIBRARY"); env != nullptr && *env != '\0') {
    return {env, OnnxRuntimeSource::kEnvironment};
  }
  if (const char* dir = defectkit_packaged_onnxruntime_dir(); dir != nullptr && *dir != '\0') {
    if (std::string found = library_in(dir); !found.empty()) return {found, OnnxRuntimeSource::kPackage};
  }
  const std::string built_in = DEFECTKIT_ORT_LIBRARY_DEFAULT;
  if (!built_in.empty()) return {built_in, OnnxRuntimeSource::kBuildDefault};
  return {"libonnxruntime.so", OnnxRuntimeSource::kSearchPath};
}

std::string default_onnxruntime_library() { return resolve_onnxruntime_library().path; }

const OnnxRuntimeInfo& load_onnxruntime(const std::string& library_path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const OnnxRuntimeLibrary chosen = resolve_onnxruntime_library(library_path);
  const std::string& wanted = chosen.path;
  if (g_info) {
    if (!library_path.empty() && canonical(wanted) != canonical(g_info->library_path)) {
      throw Error(ErrorCode::kBackend,
                  "ONNX Runtime is already loaded from " + g_info->library_path + "; cannot also load " + wanted);
    }
    return *g_info;
  }

  // RTLD_LOCAL keeps its symbols to us, so a second ONNX Runtime in the
  // process (the onnxruntime Python package, say) cannot clash with it.
  void* handle = dlopen(wanted.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw Error(ErrorCode::kBackend, "cannot load the ONNX Runtime library '" + wanted +
                                         "': " + (why ? why : "unknown error") +
                                         " (set DEFECTKIT_ORT_LIBRARY or pip install onnxruntime)");
  }
  using GetApiBaseFn = const OrtApiBase* (*)();
  auto get_api_base = reinterpret_cast<GetApiBaseFn>(dlsym(handle, "OrtGetApiBase"));
  if (get_api_base == nullptr) {
    dlclose(handle);
    throw Error(ErrorCode::kBackend, "'" + wanted + "' is not an ONNX Runtime library (no OrtGetApiBase)");
  }
  const OrtApiBase* base = get_api_base();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    const std::string version = base->GetVersionString();
    dlclose(handle);
    throw Error(ErrorCode::kBackend, "ONNX Runtime " + version + " at '" + wanted + "' is older than the API version " +
                                         std::to_string(ORT_API_VERSION) + " this build needs");
  }
  Ort::InitApi(api);

  auto info = std::make_unique<OnnxRuntimeInfo>();
  info->version = base->GetVersionString();
  Dl_info dl{};
  info->library_path = (dladdr(reinterpret_cast<void*>(get_api_base), &dl) && dl.dli_fname) ? canonical(dl.dli_fname)
                                                                                            : canonical(wanted);
  info->api_version = ORT_API_VERSION;
  info->source = onnxruntime_source_name(chosen.source);
  try {
    info->providers = Ort::GetAvailableProviders();
  } catch (const Ort::Exception&) {
    // Providers are informational; a library that cannot list them still runs.
  }
  g_info = std::move(info);
  return *g_info;
}

}  // namespace defectkit
