// defectkit._native: the generic artifact layer. The C++ structs as Python
// classes with read-only properties (TensorSpec, ArtifactMetadata), the
// ArtifactSession (a dict of numpy arrays in, a dict out; arrays of the spec's
// dtype and C-contiguous are read in place, others converted once within
// their kind; the GIL released around the run; outputs own their buffers),
// and read_artifact_metadata.
#include "defectkit/artifact_session.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "numpy_util.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace defectkit_bindings {
namespace {

using defectkit::ElementType;

[[noreturn]] void invalid(const std::string& what) {
  throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, what);
}

// The shape as the artifact's JSON writes it: ints for fixed axes, strings for symbolic ones.
py::tuple shape_tuple(const std::vector<defectkit::Dim>& shape) {
  py::tuple out(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    out[d] = shape[d].is_fixed() ? py::object(py::int_(shape[d].size)) : py::object(py::str(shape[d].str()));
  }
  return out;
}

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

// The ElementType of a numpy array's dtype, if defectkit passes it.
std::optional<ElementType> element_type_of(const py::array& a) {
  const std::string name = py::str(a.dtype().attr("name"));
  const auto type = defectkit::element_type_from_name(name);
  // Byte order: numpy names a big-endian float32 "float32" too; only native order is read in place.
  if (!type || !a.dtype().attr("isnative").cast<bool>()) return std::nullopt;
  return type;
}

// One input array kept alive (and, if needed, converted) for one run.
struct HeldInput {
  py::array array;
  defectkit::TypedTensorView view;
};

HeldInput hold(const std::string& name, const py::handle& value, const defectkit::TensorSpec* spec) {
  py::module_ np = py::module_::import("numpy");
  py::array array = py::isinstance<py::array>(value) ? py::reinterpret_borrow<py::array>(value)
                                                     : py::array(np.attr("asarray")(value));
  HeldInput held;
  const auto type = element_type_of(array);
  const bool contiguous = (array.flags() & py::array::c_style) != 0;
  if (spec == nullptr || (type == spec->dtype && contiguous)) {
    held.array = array;  // read in place (an unknown name is refused by the session, by name)
  } else {
    const char* target = defectkit::element_type_name(spec->dtype);
    if (!np.attr("can_cast")(array.dtype(), target, "casting"_a = "same_kind").cast<bool>()) {
      invalid("input '" + name + "' is " + py::str(array.dtype()).cast<std::string>() + " but the artifact takes " +
              target + " (converted only within a kind, e.g. float64 to float32)");
    }
    held.array = np.attr("ascontiguousarray")(array, "dtype"_a = target);
  }
  if (held.array.ptr() != value.ptr()) ++input_copies();
  const auto held_type = element_type_of(held.array);
  if (!held_type && spec != nullptr) {
    invalid("input '" + name + "' has dtype " + py::str(held.array.dtype()).cast<std::string>());
  }
  held.view.data = held.array.data();
  held.view.dtype = held_type.value_or(ElementType::kOther);  // no spec: the session refuses the name
  held.view.shape.assign(held.array.shape(), held.array.shape() + held.array.ndim());
  held.view.size_bytes = static_cast<size_t>(held.array.nbytes());
  return held;
}

// Hands the tensor's buffer to numpy without copying: the capsule owns it.
py::array to_numpy(defectkit::TypedTensor&& t) {
  auto* owned = new std::vector<uint8_t>(std::move(t.bytes));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  py::dtype dtype = py::dtype::from_args(py::str(defectkit::element_type_name(t.dtype)));
  std::vector<py::ssize_t> dims(t.shape.begin(), t.shape.end());
  return py::array(dtype, dims, owned->data(), free_when_done);
}

py::dict run(const defectkit::ArtifactSession& session, const py::dict& inputs) {
  std::vector<HeldInput> held;
  held.reserve(inputs.size());
  std::map<std::string, defectkit::TypedTensorView> views;
  for (const auto& [key, value] : inputs) {
    if (!py::isinstance<py::str>(key)) invalid("input names are strings, got " + py::repr(key).cast<std::string>());
    const std::string name = key.cast<std::string>();
    held.push_back(hold(name, value, session.metadata().find_input(name)));
    views[name] = held.back().view;
  }
  std::map<std::string, defectkit::TypedTensor> outputs;
  {
    py::gil_scoped_release release;
    outputs = session.run(views);
  }
  py::dict result;
  for (const auto& spec : session.metadata().outputs)
    result[py::str(spec.name)] = to_numpy(std::move(outputs.at(spec.name)));
  return result;
}

defectkit::ModelOptions model_options(int intra, int inter, const std::string& library, const std::string& provider,
                                      const std::string& graph_optimization) {
  defectkit::ModelOptions options;
  options.intra_op_threads = intra;
  options.inter_op_threads = inter;
  options.onnxruntime_library = library;
  options.execution_provider = provider;
  options.graph_optimization = defectkit::parse_graph_optimization(graph_optimization);
  return options;
}

std::string spec_repr(const defectkit::TensorSpec& s) {
  std::string out = "TensorSpec(name=" + py::repr(py::str(s.name)).cast<std::string>() + ", dtype='" +
                    defectkit::element_type_name(s.dtype) +
                    "', shape=" + py::repr(shape_tuple(s.shape)).cast<std::string>() +
                    ", layout=" + py::repr(py::str(s.layout)).cast<std::string>();
  if (s.scale) out += ", scale=" + py::repr(py::float_(*s.scale)).cast<std::string>();
  return out + ")";
}

}  // namespace

void bind_artifact_session(py::module_& m) {
  using defectkit::ArtifactMetadata;
  using defectkit::TensorSpec;

  py::class_<TensorSpec>(m, "TensorSpec", "One graph input or output as the artifact describes it.")
      .def_property_readonly("name", [](const TensorSpec& s) { return s.name; })
      .def_property_readonly(
          "dtype", [](const TensorSpec& s) { return defectkit::element_type_name(s.dtype); },
          "numpy's name of the element type: 'float32', 'uint8', 'int64', ...")
      .def_property_readonly(
          "shape", [](const TensorSpec& s) { return shape_tuple(s.shape); },
          "One entry per axis: an int for a fixed size, a str for a symbolic one ('batch').")
      .def_property_readonly("layout", [](const TensorSpec& s) { return s.layout; })
      .def_property_readonly(
          "scale",
          [](const TensorSpec& s) { return s.scale ? py::object(py::float_(*s.scale)) : py::object(py::none()); },
          "Inputs: the top of the value range the graph expects (255.0: 0..255); None if it does not apply.")
      .def_property_readonly("meaning", [](const TensorSpec& s) { return s.meaning; })
      .def("__repr__", &spec_repr);

  py::class_<ArtifactMetadata>(m, "ArtifactMetadata", "An artifact's `defectkit.` metadata, typed (docs/ARTIFACT.md).")
      .def_property_readonly("format_version", [](const ArtifactMetadata& a) { return a.format_version; })
      .def_property_readonly("family", [](const ArtifactMetadata& a) { return a.family; })
      .def_property_readonly("precision", [](const ArtifactMetadata& a) { return a.precision; })
      .def_property_readonly("int8_weight_bits", [](const ArtifactMetadata& a) { return a.int8_weight_bits; })
      .def_property_readonly("inputs", [](const ArtifactMetadata& a) { return a.inputs; })
      .def_property_readonly("outputs", [](const ArtifactMetadata& a) { return a.outputs; })
      .def_property_readonly("thresholds", [](const ArtifactMetadata& a) { return a.thresholds; })
      .def_property_readonly("family_json", [](const ArtifactMetadata& a) { return a.family_json; })
      .def_property_readonly("provenance_json", [](const ArtifactMetadata& a) { return a.provenance_json; })
      .def_property_readonly(
          "family_section", [](const ArtifactMetadata& a) { return json_loads(a.family_json); },
          "family_json parsed (a new dict each time).")
      .def_property_readonly(
          "provenance", [](const ArtifactMetadata& a) { return json_loads(a.provenance_json); },
          "provenance_json parsed (a new dict each time).")
      .def_property_readonly("graph_checked", [](const ArtifactMetadata& a) { return a.graph_checked; })
      .def("__repr__", [](const ArtifactMetadata& a) {
        return "ArtifactMetadata(format_version=" + std::to_string(a.format_version) + ", family='" + a.family +
               "', precision='" + a.precision + "', inputs=" + std::to_string(a.inputs.size()) +
               ", outputs=" + std::to_string(a.outputs.size()) + ")";
      });

  py::class_<defectkit::ArtifactSession>(m, "ArtifactSession")
      .def(py::init([](const std::string& path, int intra, int inter, const std::string& library,
                       const std::string& provider, const std::string& graph_optimization) {
             const auto options = model_options(intra, inter, library, provider, graph_optimization);
             py::gil_scoped_release release;
             return defectkit::ArtifactSession::open(path, options);
           }),
           "path"_a, "intra_op_threads"_a = 0, "inter_op_threads"_a = 0, "onnxruntime_library"_a = "",
           "provider"_a = "cpu", "graph_optimization"_a = "all")
      .def_property_readonly("path", &defectkit::ArtifactSession::path)
      .def_property_readonly("provider",
                             [](const defectkit::ArtifactSession& s) { return s.model().execution_provider(); })
      .def_property_readonly("metadata", &defectkit::ArtifactSession::metadata,
                             py::return_value_policy::reference_internal)
      .def("run", &run, "inputs"_a, "Runs the graph on named arrays; returns the outputs by name, in output order.");

  m.def(
      "read_artifact_metadata",
      [](const std::string& path, const std::string& library) {
        defectkit::ModelOptions options;
        options.onnxruntime_library = library;
        py::gil_scoped_release release;
        return defectkit::read_artifact_metadata(path, options);
      },
      "path"_a, "onnxruntime_library"_a = "", "Reads an artifact's metadata, checked against its graph.");
}

}  // namespace defectkit_bindings
