// defectkit._native — the pybind11 module over the C++ runtime. Private: the
// typed facade in python/defectkit re-exports what users call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "defectkit/error.h"
#include "defectkit/int8_weights.h"
#include "defectkit/model.h"
#include "defectkit/onnxruntime_loader.h"
#include "defectkit/strip_reader.h"
#include "numpy_util.h"

namespace py = pybind11;
using namespace pybind11::literals;
using defectkit_bindings::to_numpy;

namespace {

// defectkit::Error -> the class from defectkit.errors for its code, so native
// and Python-side failures raise the same types.
void translate_error(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const defectkit::Error& e) {
    py::object cls =
        py::module_::import("defectkit.errors").attr("error_for_code")(defectkit::error_code_name(e.code()));
    PyErr_SetString(cls.ptr(), e.what());
  }
}

py::dict info_dict(const defectkit::OnnxRuntimeInfo& info) {
  return py::dict("version"_a = info.version, "library_path"_a = info.library_path, "api_version"_a = info.api_version,
                  "providers"_a = info.providers, "source"_a = info.source);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "defectkit's native runtime (private; use the defectkit package)";
  py::register_exception_translator(&translate_error);

  m.def(
      "read_strip",
      [](const std::string& path) {
        defectkit::StripTensor strip;
        {
          py::gil_scoped_release release;
          strip = defectkit::StripReader().read(path);
        }
        return to_numpy(std::move(strip.data), {strip.channels, strip.height, strip.width});
      },
      "path"_a, "Reads a strip TIFF as a (C, H, W) float32 array on the 0..255 scale.");

  m.def("default_onnxruntime_library", &defectkit::default_onnxruntime_library,
        "The ONNX Runtime library opened when none is named.");
  m.def("cpu_sums_int8_products_exactly", &defectkit::cpu_sums_int8_products_exactly,
        "Whether INT8 artifacts with full-range (8-bit) weights compute exactly on this CPU (AVX512-VNNI).");
  m.def(
      "load_onnxruntime",
      [](const std::string& path) {
        py::gil_scoped_release release;
        const auto& info = defectkit::load_onnxruntime(path);
        py::gil_scoped_acquire acquire;
        return info_dict(info);
      },
      "library_path"_a = "", "Opens ONNX Runtime once per process and describes it.");

  py::class_<defectkit::Model>(m, "Model")
      .def(py::init([](const std::string& path, int intra, int inter, const std::string& library,
                       const std::string& provider, const std::string& graph_optimization) {
             defectkit::ModelOptions options;
             options.intra_op_threads = intra;
             options.inter_op_threads = inter;
             options.onnxruntime_library = library;
             options.execution_provider = provider;
             options.graph_optimization = defectkit::parse_graph_optimization(graph_optimization);
             py::gil_scoped_release release;
             return defectkit::Model::load(path, options);
           }),
           "path"_a, "intra_op_threads"_a = 0, "inter_op_threads"_a = 0, "onnxruntime_library"_a = "",
           "provider"_a = "cpu", "graph_optimization"_a = "all")
      .def_property_readonly("provider", &defectkit::Model::execution_provider)
      .def_property_readonly("path", &defectkit::Model::path)
      .def_property_readonly("inputs",
                             [](const defectkit::Model& model) {
                               py::list out;
                               for (const auto& t : model.inputs()) out.append(py::make_tuple(t.name, t.shape));
                               return out;
                             })
      .def_property_readonly("outputs",
                             [](const defectkit::Model& model) {
                               py::list out;
                               for (const auto& t : model.outputs()) out.append(py::make_tuple(t.name, t.shape));
                               return out;
                             })
      .def_property_readonly("metadata", &defectkit::Model::metadata)
      .def(
          "run",
          [](const defectkit::Model& model,
             const std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>>& arrays) {
            std::vector<defectkit::TensorView> views;
            for (const auto& a : arrays) {
              views.push_back({a.data(), std::vector<int64_t>(a.shape(), a.shape() + a.ndim())});
            }
            std::vector<defectkit::Tensor> outputs;
            {
              py::gil_scoped_release release;
              outputs = model.run(views);
            }
            py::list result;
            for (auto& t : outputs) result.append(to_numpy(std::move(t.data), t.shape));
            return result;
          },
          "inputs"_a, "Runs the graph on float32 arrays (one per input, in order); returns the outputs in order.");

  defectkit_bindings::bind_artifact_session(m);  // first: Inspector.artifact returns its ArtifactMetadata
  defectkit_bindings::bind_inspector(m);
  defectkit_bindings::bind_image_classifier(m);
}
