#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace {

// The tests write their files under <temp>/defectkit_<suite>_<pid> (test_model.cpp,
// artifact_fixtures.cpp, the readers' tests), some of them while the tests are registered.
// CTest runs every test in its own process (gtest_discover_tests, which lists them in one
// more), so without this each run left one folder per test behind: thousands in /tmp after a
// few `make test`s. At the end of the process its own folders go, listing included.
void remove_this_process_temp_dirs() {
  namespace fs = std::filesystem;
  const std::string suffix = "_" + std::to_string(::getpid());
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ignored)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name.rfind("defectkit_", 0) == 0 && name.size() > suffix.size() &&
                      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (ours) fs::remove_all(entry.path(), ignored);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  remove_this_process_temp_dirs();
  return failed;
}
