#include "defectkit/onnxruntime_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include <onnxruntime_cxx_api.h>

#include "defectkit/error.h"

#ifndef DEFECTKIT_ORT_LIBRARY_DEFAULT
#define DEFECTKIT_ORT_LIBRARY_DEFAULT ""
#endif

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

}  // namespace

std::string default_onnxruntime_library() {
  if (const char* env = std::getenv("DEFECTKIT_ORT_LIBRARY"); env != nullptr && *env != '\0') return env;
  const std::string built_in = DEFECTKIT_ORT_LIBRARY_DEFAULT;
  if (!built_in.empty()) return built_in;
  return "libonnxruntime.so";
}

const OnnxRuntimeInfo& load_onnxruntime(const std::string& library_path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::string wanted = library_path.empty() ? default_onnxruntime_library() : library_path;
  if (g_info) {
    if (!library_path.empty() && canonical(wanted) != canonical(g_info->library_path)) {
      throw Error(ErrorCode::kBackend, "ONNX Runtime is already loaded from " + g_info->library_path +
                                           "; cannot also load " + wanted);
    }
    return *g_info;
  }

  // RTLD_LOCAL keeps its symbols to us, so a second ONNX Runtime in the
  // process (the onnxruntime Python package, say) cannot clash with it.
  void* handle = dlopen(wanted.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw Error(ErrorCode::kBackend, "cannot load the ONNX Runtime library '" + wanted + "': " +
                                         (why ? why : "unknown error") +
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
    throw Error(ErrorCode::kBackend, "ONNX Runtime " + version + " at '" + wanted +
                                         "' is older than the API version " + std::to_string(ORT_API_VERSION) +
                                         " this build needs");
  }
  Ort::InitApi(api);

  auto info = std::make_unique<OnnxRuntimeInfo>();
  info->version = base->GetVersionString();
  Dl_info dl{};
  info->library_path = (dladdr(reinterpret_cast<void*>(get_api_base), &dl) && dl.dli_fname)
                           ? canonical(dl.dli_fname)
                           : canonical(wanted);
  info->api_version = ORT_API_VERSION;
  try {
    info->providers = Ort::GetAvailableProviders();
  } catch (const Ort::Exception&) {
    // Providers are informational; a library that cannot list them still runs.
  }
  g_info = std::move(info);
  return *g_info;
}

}  // namespace defectkit
