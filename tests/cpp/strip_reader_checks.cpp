#include "strip_reader_checks.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace fs = std::filesystem;

namespace defectkit::testing::strip_reader {

namespace {

uint32_t bits_of(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

}  // namespace

fs::path temp_dir() { return fs::temp_directory_path() / ("defectkit_strip_tests_" + std::to_string(::getpid())); }

std::string temp_path(const std::string& name) {
  fs::create_directories(temp_dir());
  return (temp_dir() / name).string();
}

void expect_values(const StripTensor& strip, const TiffSpec& spec, const ValueFn& values) {
  ASSERT_EQ(strip.channels, spec.channels);
  ASSERT_EQ(strip.height, spec.height);
  ASSERT_EQ(strip.width, spec.width);
  ASSERT_EQ(strip.data.size(), static_cast<size_t>(spec.channels) * spec.height * spec.width);
  const ValueFn fn = values ? values : default_values(spec.type);
  int mismatches = 0;
  for (int c = 0; c < spec.channels; ++c) {
    for (int y = 0; y < spec.height; ++y) {
      for (int x = 0; x < spec.width; ++x) {
        const float want = expected_float(spec.type, fn(c, y, x));
        const float got = strip.channel(c)[static_cast<size_t>(y) * spec.width + x];
        if (bits_of(got) != bits_of(want) && mismatches++ < 5) {
          ADD_FAILURE() << "at channel " << c << ", row " << y << ", column " << x << ": got " << got << ", want "
                        << want;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

std::string expect_refused(const std::string& path, ErrorCode code, const std::string& fragment,
                           const StripReaderOptions& options) {
  try {
    StripReader(options).read(path);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    return message;
  }
  ADD_FAILURE() << path << " was read, expected a refusal containing '" << fragment << "'";
  return "";
}

Refusal refusal_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return {e.code(), e.what(), ""};
  }
  return {};
}

void expect_refusal(const Refusal& got, const std::string& path, ErrorCode code, const std::string& fragment) {
  ASSERT_EQ(got.problem, "");
  ASSERT_NE(got.code, ErrorCode::kOk) << path << " was read, expected a refusal containing '" << fragment << "'";
  EXPECT_EQ(got.code, code) << got.message;
  EXPECT_EQ(got.message.rfind(path + ": ", 0), 0u) << got.message;
  EXPECT_NE(got.message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << got.message;
}

Refusal refusal_as_ordinary_user(const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return {ErrorCode::kOk, "", std::string("pipe: ") + std::strerror(errno)};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    int code = -1;
    std::string message;
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      message = std::string("cannot drop root: ") + std::strerror(errno);
    } else {
      const Refusal r = refusal_of([&path] { StripReader().read(path); });
      code = static_cast<int>(r.code);
      message = r.message;
    }
    bool written = ::write(fds[1], &code, sizeof code) == static_cast<ssize_t>(sizeof code);
    written = written && ::write(fds[1], message.data(), message.size()) == static_cast<ssize_t>(message.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(fds[1]);
  if (child < 0) {
    ::close(fds[0]);
    return {ErrorCode::kOk, "", std::string("fork: ") + std::strerror(errno)};
  }
  std::string bytes;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n > 0) {
      bytes.append(buffer, static_cast<size_t>(n));
    } else if (errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  int code = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes.size() < sizeof code) {
    return {ErrorCode::kOk, "", "the reading child failed (wait status " + std::to_string(status) + ")"};
  }
  std::memcpy(&code, bytes.data(), sizeof code);
  if (code < 0) return {ErrorCode::kOk, "", bytes.substr(sizeof code)};
  return {static_cast<ErrorCode>(code), bytes.substr(sizeof code), ""};
}

}  // namespace defectkit::testing::strip_reader
