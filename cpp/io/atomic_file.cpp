#include "io/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmn {

namespace fs = std::filesystem;

namespace {

// The start of a target's temporary file names: the target's own name, cut
// short where the suffix ("PID-" and 8 hex digits after ".tmp-", at most 22
// bytes) would take it past the 255 bytes a file name may have.
std::string temp_prefix(const std::string& target_name) { return target_name.substr(0, 255 - 22) + ".tmp-"; }

// The writer's PID in "PREFIX" + "PID" or "PID-TAG" (TAG: 8 hex digits, or
// the decimal counter of earlier versions), or 0 when `file_name` is not one
// of the target's temporary files.
pid_t temp_file_writer(const std::string& file_name, const std::string& prefix) {
  if (file_name.size() <= prefix.size() || file_name.compare(0, prefix.size(), prefix) != 0) return 0;
  const std::string rest = file_name.substr(prefix.size());
  const std::size_t dash = rest.find('-');
  const std::string pid = rest.substr(0, dash);
  const std::string tag = dash == std::string::npos ? "0" : rest.substr(dash + 1);
  auto made_of = [](const std::string& t, const char* chars) {
    return !t.empty() && t.size() <= 9 && t.find_first_not_of(chars) == std::string::npos;
  };
  return made_of(pid, "0123456789") && made_of(tag, "0123456789abcdef") ? static_cast<pid_t>(std::stol(pid)) : 0;
}

// Whether a writer is still at work on the temporary file open as `fd`. When
// it is not, this process now holds the file's lock.
bool held_by_a_writer(int fd, pid_t writer) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return false;
  if (errno == EWOULDBLOCK) return true;
  // A file system without flock: only the PID can tell (and cannot across PID namespaces).
  return ::kill(writer, 0) == 0 || errno != ESRCH;
}

// Removes the temporary files a killed writer left beside `target`. Best
// effort: what cannot be opened or removed stays.
void remove_stale_temp_files(const fs::path& target) {
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : ".";
  const std::string prefix = temp_prefix(target.filename().string());
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const pid_t writer = temp_file_writer(it->path().filename().string(), prefix);
    if (writer <= 0) continue;
    const std::string name = it->path().string();
    // O_NONBLOCK: a FIFO of that name must not block the open
    const int fd = ::open(name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat opened;
    struct stat named;
    if (::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) && !held_by_a_writer(fd, writer) &&
        ::lstat(name.c_str(), &named) == 0 && named.st_dev == opened.st_dev && named.st_ino == opened.st_ino) {
      // Removed while this process holds the lock: a writer that created it
      // a moment ago waits for the lock, then sees it gone and makes another.
      ::unlink(name.c_str());
    }
    ::close(fd);
  }
}

// The file a chain of symbolic links ends at (which need not exist yet), or
// the path itself when it is not a link.
fs::path final_target(fs::path path, const std::string& failure) {
  for (int hops = 0; hops < 40; ++hops) {  // Linux's own limit
    std::error_code ec;
    if (!fs::is_symlink(path, ec)) return path;
    const fs::path next = fs::read_symlink(path, ec);
    if (ec) return path;
    path = next.is_absolute() ? next : path.parent_path() / next;
  }
  throw IoError(failure + ": too many levels of symbolic links", ELOOP, "too many levels of symbolic links");
}

struct TempFile {
  int fd;
  std::string path;
};

// Creates a new temporary file for `target` and locks it; -1 and errno set
// when it cannot.
TempFile create_locked_temp_file(const fs::path& target) {
  const std::string stem =
      (target.parent_path() / temp_prefix(target.filename().string())).string() + std::to_string(::getpid()) + "-";
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char tag[16];
    std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(random()));
    TempFile tmp{::open((stem + tag).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), stem + tag};
    if (tmp.fd < 0 && errno == EEXIST) continue;
    if (tmp.fd < 0) return tmp;
    int locked;
    do {
      locked = ::flock(tmp.fd, LOCK_EX);  // waits only while a cleaner looks at it
    } while (locked != 0 && errno == EINTR);
    struct stat info;
    if (::fstat(tmp.fd, &info) == 0 && info.st_nlink == 0) {  // a cleaner got to it before the lock
      ::close(tmp.fd);
      continue;
    }
    return tmp;
  }
  errno = EEXIST;
  return {-1, ""};
}

}  // namespace

void check_no_nul(const std::string& path, const std::string& what) {
  if (path.find('\0') == std::string::npos) return;
  std::string shown;
  for (char c : path) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  throw std::invalid_argument(what + " path '" + shown + "' contains a NUL character");
}

void write_file_atomically(const std::string& given_path, std::string_view bytes, const std::string& what) {
  check_no_nul(given_path, what);
  const std::string failure = "cannot write " + what + " '" + given_path + "'";
  auto fail = [&](int err) { throw IoError(failure + ": " + std::strerror(err), err, std::strerror(err)); };
  const fs::path path = final_target(given_path, failure);
  struct stat target;
  const bool exists = ::stat(path.c_str(), &target) == 0;
  if (exists && !S_ISREG(target.st_mode)) {
    const char* reason = "it exists and is not a regular file";
    throw IoError(failure + ": " + reason, S_ISDIR(target.st_mode) ? EISDIR : EEXIST, reason);
  }
  remove_stale_temp_files(path);
  const TempFile tmp = create_locked_temp_file(path);
  if (tmp.fd < 0) fail(errno);
  int err = 0;
  // fchmod sets exactly these bits (the umask applied when the file was made)
  if (exists && ::fchmod(tmp.fd, target.st_mode & 07777) != 0) err = errno;
  std::size_t done = 0;
  while (done < bytes.size() && err == 0) {
    const ssize_t n = ::write(tmp.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno != EINTR) err = errno;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(tmp.fd) != 0) err = errno;
  // Renamed while still locked, so no cleaner takes it for a dead writer's.
  if (err == 0 && std::rename(tmp.path.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) ::unlink(tmp.path.c_str());
  ::close(tmp.fd);
  if (err != 0) fail(err);
  // The rename is durable only once the folder is synced.
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace lmn
