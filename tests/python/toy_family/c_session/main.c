/* run_session ARTIFACT SIGNAL.bin IMAGE.bin: the toy family's two inputs (float32 (1, 8) and
 * uint8 (1, 1, 16, 16), raw bytes) through dk_session; prints the family, the score and the
 * heatmap's sum, one "name value" per line. */
#include <defectkit/defectkit_c.h>
#include <stdio.h>
#include <stdlib.h>

static int read_file(const char* path, void* buffer, size_t bytes) {
  FILE* file = fopen(path, "rb");
  if (file == NULL) return 0;
  size_t got = fread(buffer, 1, bytes, file);
  fclose(file);
  return got == bytes;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s ARTIFACT SIGNAL.bin IMAGE.bin\n", argv[0]);
    return 2;
  }
  float signal[8];
  unsigned char image[16 * 16];
  if (!read_file(argv[2], signal, sizeof signal) || !read_file(argv[3], image, sizeof image)) {
    fprintf(stderr, "cannot read the inputs\n");
    return 2;
  }
  dk_session* session = NULL;
  if (dk_session_create(argv[1], NULL, &session) != DK_OK) {
    fprintf(stderr, "%s\n", dk_last_error());
    return 1;
  }
  const int64_t signal_shape[] = {1, 8};
  const int64_t image_shape[] = {1, 1, 16, 16};
  dk_named_tensor inputs[2] = {
      {"image", DK_ELEMENT_UINT8, image, image_shape, 4, sizeof image}, /* any order: by name */
      {"signal", DK_ELEMENT_FLOAT32, signal, signal_shape, 2, sizeof signal},
  };
  dk_named_tensor* outputs = NULL;
  size_t count = 0;
  if (dk_session_run(session, inputs, 2, &outputs, &count) != DK_OK) {
    fprintf(stderr, "%s: %s\n", dk_status_name(DK_INVALID_ARGUMENT), dk_last_error());
    dk_session_free(session);
    return 1;
  }
  printf("family %s\n", dk_session_family(session));
  for (size_t i = 0; i < count; ++i) {
    const float* values = (const float*)outputs[i].data;
    size_t n = outputs[i].bytes / sizeof(float);
    double sum = 0.0;
    for (size_t k = 0; k < n; ++k) sum += values[k];
    if (outputs[i].name[0] == 's') printf("score %.9g\n", values[0]);
    else printf("%s_sum %.9g\n", outputs[i].name, sum);
  }
  dk_named_tensors_free(outputs, count);
  dk_session_free(session);
  return 0;
}
