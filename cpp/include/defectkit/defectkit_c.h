/* defectkit's C API: the Inspector (strips), the image classifier, a plain
 * model and the generic artifact session behind opaque handles, for
 * controllers written in C, C# or anything with a C FFI. No C++ exception
 * crosses it: every call that can fail returns a dk_status, and
 * dk_last_error() gives the message of the calling thread's last failure.
 * Handles are thread-safe to share (one inspector, many threads); results
 * belong to the caller until dk_inspection_free / dk_classification_free. */
#ifndef DEFECTKIT_C_H_
#define DEFECTKIT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The same codes as defectkit::ErrorCode. */
typedef enum dk_status {
  DK_OK = 0,
  DK_INVALID_ARGUMENT = 1, /* bad pointer, shape, dtype or option */
  DK_FILE_NOT_FOUND = 2,   /* a path that does not exist */
  DK_BAD_FILE = 3,         /* a strip or image breaking the data contract (truncated, corrupt) */
  DK_UNSUPPORTED = 4,      /* a strip or image variant defectkit does not read (CMYK JPEG, ...) */
  DK_MODEL = 5,            /* an artifact that cannot be used */
  DK_BACKEND = 6,          /* ONNX Runtime: library missing, run failure */
  DK_INTERNAL = 99         /* anything else (out of memory); see dk_last_error */
} dk_status;

typedef enum dk_dtype { DK_FLOAT32 = 0, DK_UINT8 = 1, DK_UINT16 = 2 } dk_dtype;
typedef enum dk_layout { DK_CHW = 0, DK_HWC = 1 } dk_layout;
typedef enum dk_graph_kind { DK_GRAPH_TILED = 0, DK_GRAPH_FULL_FRAME = 1, DK_GRAPH_PATCH = 2 } dk_graph_kind;

typedef struct dk_inspector dk_inspector; /* opaque */

/* Fill with dk_inspector_options_init, then change what you need. */
typedef struct dk_inspector_options {
  int intra_op_threads;            /* 0: ONNX Runtime decides */
  int inter_op_threads;            /* 0: ONNX Runtime decides */
  const char* execution_provider;  /* NULL or "cpu"; "cuda", "tensorrt", "openvino" when available */
  const char* graph_optimization;  /* NULL or "all"; "disable", "basic", "extended" */
  const char* onnxruntime_library; /* NULL: see defectkit::default_onnxruntime_library */
  int max_batch;                   /* patch artifacts: most tiles per run (default 16) */
  /* NULL, or key, value, key, value, ..., NULL: options for the "openvino"
   * provider (e.g. "reshape_input", "strip[1,4,976,176]"); with any other
   * provider a non-empty list is DK_INVALID_ARGUMENT. Copied at create.
   * After "reshape_input" an input of another shape is DK_INVALID_ARGUMENT. */
  const char* const* provider_options;
} dk_inspector_options;

/* Per call; NaN thresholds (the default) mean the artifact's. */
typedef struct dk_inspect_options {
  float image_threshold;
  float pixel_threshold;
  int roi; /* nonzero: zero the heatmap where channel 3 is 0 (4-channel strips) */
} dk_inspect_options;

typedef struct dk_region {
  int x, y, width, height; /* bounding box, pixels */
  int area;                /* pixels in the component (8-connectivity) */
  float peak;              /* highest heatmap value inside */
  float centroid_x, centroid_y;
} dk_region;

typedef struct dk_inspection {
  int height, width;
  float* heatmap; /* height * width floats, row-major, defect probability */
  float score;
  int is_defective; /* score >= image_threshold */
  size_t region_count;
  dk_region* regions;
  float image_threshold, pixel_threshold; /* the thresholds applied */
} dk_inspection;

typedef struct dk_artifact_info {
  dk_graph_kind graph;
  int image_height, image_width; /* full-image graphs take exactly this size */
  int patch;                     /* patch graphs: tile side; else 0 */
  float image_threshold, pixel_threshold;
  int roi; /* exported with fourth_channel "roi" */
} dk_artifact_info;

void dk_inspector_options_init(dk_inspector_options* options);
void dk_inspect_options_init(dk_inspect_options* options);

/* Opens an artifact. options may be NULL. On success *out owns a handle to
 * release with dk_inspector_free; on failure *out is NULL. */
dk_status dk_inspector_create(const char* artifact_path, const dk_inspector_options* options, dk_inspector** out);
void dk_inspector_free(dk_inspector* inspector); /* NULL is fine */

dk_status dk_inspector_info(const dk_inspector* inspector, dk_artifact_info* out);

/* Inspect a strip TIFF, or a strip in memory (size_bytes readable at data).
 * options may be NULL. *out is freed with dk_inspection_free. Thread-safe. */
dk_status dk_inspect_file(const dk_inspector* inspector, const char* strip_path, const dk_inspect_options* options,
                          dk_inspection** out);
dk_status dk_inspect_buffer(const dk_inspector* inspector, const void* data, size_t size_bytes, dk_dtype dtype,
                            dk_layout layout, int channels, int height, int width, const dk_inspect_options* options,
                            dk_inspection** out);
void dk_inspection_free(dk_inspection* inspection); /* NULL is fine */

/* --- The image classifier: guided_classifier artifacts ------------------- */

typedef struct dk_classifier dk_classifier; /* opaque */

/* Per call; NaN thresholds (the default, dk_classify_options_init) mean the artifact's. */
typedef struct dk_classify_options {
  float defect_threshold; /* defect-class probability >= this: defective */
  float pixel_threshold;  /* mask >= this: part of a region */
} dk_classify_options;

typedef struct dk_classification {
  size_t class_count;
  float* probabilities;     /* class_count, in the artifact's class order (names: dk_classifier_info) */
  int top_class;            /* index of the most probable class (the first on a tie) */
  int defect_class;         /* index of the class compared with the defect threshold */
  float defect_probability; /* probabilities[defect_class] */
  int is_defective;         /* defect_probability >= defect_threshold */
  int height, width;        /* the image's size */
  float* mask;              /* height * width floats, row-major, defect probability per pixel */
  size_t region_count;
  dk_region* regions;                      /* connected components of mask >= pixel_threshold */
  float defect_threshold, pixel_threshold; /* the thresholds applied */
} dk_classification;

typedef struct dk_classifier_artifact_info {
  size_t class_count;
  const char* const* classes;    /* class_count names; valid while the classifier lives */
  int defect_class;              /* index into classes */
  int channels;                  /* 1 or 3: the graph's fixed channel count; 0: it takes either */
  int input_height, input_width; /* the size the network runs at (informational); 0 if not given */
  float defect_threshold, pixel_threshold;
} dk_classifier_artifact_info;

void dk_classify_options_init(dk_classify_options* options);

/* Opens a guided_classifier artifact (another family is DK_MODEL); the
 * options' session fields apply (max_batch is ignored). options may be NULL.
 * On success *out owns a handle to release with dk_classifier_free. */
dk_status dk_classifier_create(const char* artifact_path, const dk_inspector_options* options, dk_classifier** out);
void dk_classifier_free(dk_classifier* classifier); /* NULL is fine */
dk_status dk_classifier_info(const dk_classifier* classifier, dk_classifier_artifact_info* out);

/* Classify a PNG, JPEG or TIFF file (decided by its content), an encoded
 * image in memory (a frame grabber's JPEG: size_bytes at data), or pixels in
 * memory: dtype DK_UINT8 or DK_UINT16 (scaled to 8 bits), channels 1 (grey),
 * 3 (RGB) or 4 (RGBA, alpha dropped), interleaved (H, W, C), row_stride bytes
 * from one row's start to the next (0: packed), size_bytes readable at data.
 * Packed 8-bit grey or RGB is read in place. options may be NULL. *out is
 * freed with dk_classification_free. Thread-safe. */
dk_status dk_classify_file(const dk_classifier* classifier, const char* image_path, const dk_classify_options* options,
                           dk_classification** out);
dk_status dk_classify_encoded(const dk_classifier* classifier, const void* data, size_t size_bytes,
                              const dk_classify_options* options, dk_classification** out);
dk_status dk_classify_buffer(const dk_classifier* classifier, const void* data, size_t size_bytes, dk_dtype dtype,
                             int channels, int height, int width, size_t row_stride, const dk_classify_options* options,
                             dk_classification** out);
void dk_classification_free(dk_classification* classification); /* NULL is fine */

/* --- A plain ONNX Runtime session (any ONNX file, metadata or not) --------- */

typedef struct dk_model dk_model; /* opaque */

/* A float32 tensor: row-major data, rank dimensions in shape. */
typedef struct dk_tensor {
  float* data;
  int64_t* shape;
  size_t rank;
  size_t size; /* number of floats */
} dk_tensor;

/* Opens a model; the inspector options' session fields apply (max_batch is
 * ignored). Release with dk_model_free. */
dk_status dk_model_create(const char* model_path, const dk_inspector_options* options, dk_model** out);
void dk_model_free(dk_model* model); /* NULL is fine */
size_t dk_model_input_count(const dk_model* model);
size_t dk_model_output_count(const dk_model* model);
/* Names stay valid while the model lives; NULL for an index out of range. */
const char* dk_model_input_name(const dk_model* model, size_t index);
const char* dk_model_output_name(const dk_model* model, size_t index);
/* The value of a metadata_props key (e.g. "defectkit.thresholds"), or NULL. */
const char* dk_model_metadata(const dk_model* model, const char* key);
/* Runs the model with one tensor per input, in input order (their data is
 * read, not copied or kept). On success *outputs holds dk_model_output_count
 * tensors the caller releases with dk_tensors_free. Thread-safe. */
dk_status dk_model_run(const dk_model* model, const dk_tensor* inputs, size_t input_count, dk_tensor** outputs);
void dk_tensors_free(dk_tensor* tensors, size_t count); /* NULL is fine */

/* --- Any defectkit artifact, any family: named, typed tensors ------------- */

/* Element types; the same numbers as defectkit::ElementType. */
typedef enum dk_element_type {
  DK_ELEMENT_FLOAT32 = 0,
  DK_ELEMENT_UINT8 = 1,
  DK_ELEMENT_INT64 = 2,
  DK_ELEMENT_INT8 = 3,
  DK_ELEMENT_INT32 = 4,
  DK_ELEMENT_FLOAT64 = 5,
  DK_ELEMENT_BOOL = 6,  /* one byte per element */
  DK_ELEMENT_OTHER = 99 /* a graph type defectkit does not pass (float16, ...) */
} dk_element_type;

typedef struct dk_session dk_session; /* opaque */

/* One input or output as the artifact describes it; every pointer stays
 * valid while the session lives. */
typedef struct dk_tensor_spec {
  const char* name;
  dk_element_type dtype;
  size_t rank;
  const int64_t* shape;       /* rank sizes; -1 for a symbolic axis */
  const char* const* symbols; /* rank names: a symbolic axis's ("batch"), "" for a fixed one */
  const char* layout;         /* one letter per axis ("NCHW", "NHWC"); "" if none */
  float scale;                /* inputs: top of the expected value range; NaN if none */
  const char* meaning;        /* one line for people */
} dk_tensor_spec;

/* A named tensor, row-major. Inputs: the caller's memory (read, not copied
 * or kept; `bytes` readable at data). Outputs of dk_session_run: owned by
 * the caller, released with dk_named_tensors_free. */
typedef struct dk_named_tensor {
  const char* name;
  dk_element_type dtype;
  void* data;
  const int64_t* shape;
  size_t rank;
  size_t bytes;
} dk_named_tensor;

/* Opens any defectkit artifact (format 1 or 2, any family) and checks its
 * metadata against the graph; the options' session fields apply (max_batch
 * is ignored). options may be NULL. Release with dk_session_free. */
dk_status dk_session_create(const char* artifact_path, const dk_inspector_options* options, dk_session** out);
void dk_session_free(dk_session* session); /* NULL is fine */
size_t dk_session_input_count(const dk_session* session);
size_t dk_session_output_count(const dk_session* session);
/* The spec of input/output `index` (graph order); DK_INVALID_ARGUMENT out of range. */
dk_status dk_session_input(const dk_session* session, size_t index, dk_tensor_spec* out);
dk_status dk_session_output(const dk_session* session, size_t index, dk_tensor_spec* out);
/* The metadata's header; strings stay valid while the session lives (NULL for a NULL session). */
int dk_session_format_version(const dk_session* session);
const char* dk_session_family(const dk_session* session);
const char* dk_session_precision(const dk_session* session);
const char* dk_session_family_section(const dk_session* session); /* JSON text */
const char* dk_session_provenance(const dk_session* session);     /* JSON text */
/* Thresholds by name, and their names in order (NULL out of range). The
 * lookup returns DK_INVALID_ARGUMENT when the artifact has no such threshold. */
size_t dk_session_threshold_count(const dk_session* session);
const char* dk_session_threshold_name(const dk_session* session, size_t index);
dk_status dk_session_threshold(const dk_session* session, const char* name, float* out);
/* Runs the graph with one tensor per input, by name, in any order. On success
 * *outputs holds *output_count tensors in output order that the caller
 * releases with dk_named_tensors_free; on failure *outputs is NULL and a
 * missing, unknown, repeated, mistyped or misshaped input is
 * DK_INVALID_ARGUMENT naming it. Thread-safe. */
dk_status dk_session_run(const dk_session* session, const dk_named_tensor* inputs, size_t input_count,
                         dk_named_tensor** outputs, size_t* output_count);
void dk_named_tensors_free(dk_named_tensor* tensors, size_t count); /* NULL is fine */

/* The message of this thread's last failed call ("" if none); valid until
 * this thread's next call. */
const char* dk_last_error(void);
const char* dk_status_name(dk_status status);
const char* dk_version(void);

#ifdef __cplusplus
}
#endif

#endif /* DEFECTKIT_C_H_ */
