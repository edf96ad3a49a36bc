// Replacing a file atomically: the temporary files a killed writer left are
// removed by the next write, those of writers still at work are not, told
// apart by the writer's lock rather than by the PID in their names.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.hpp"
#include "io/atomic_file.hpp"

using namespace lmn;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A PID above Linux's limit (2^22): no process has it here, as a writer in
// another PID namespace may have none here.
const std::string kNoSuchPid = "999999999";

}  // namespace

TEST(temp_files_of_killed_writers_go_and_locked_ones_stay) {
  fs::remove_all("atomic");
  fs::create_directory("atomic");
  // Killed writers: one of an earlier version (a counter after the PID), one
  // of this version, and one with this process's own PID (which a writer in
  // another PID namespace can have).
  const std::string killed[] = {"atomic/f.bin.tmp-" + kNoSuchPid + "-7", "atomic/f.bin.tmp-" + kNoSuchPid + "-0badf00d",
                                "atomic/f.bin.tmp-" + std::to_string(::getpid()) + "-1"};
  for (const auto& path : killed) spit(path, "partial");
  // A writer at work holds its lock (here: another open file description).
  const std::string working = "atomic/f.bin.tmp-" + kNoSuchPid + "-12345678";
  const int held = ::open(working.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  CHECK(held >= 0 && ::flock(held, LOCK_EX) == 0);
  ::mkfifo(("atomic/f.bin.tmp-" + kNoSuchPid + "-2").c_str(), 0644);  // not a file: left, and no hang
  spit("atomic/g.bin.tmp-" + kNoSuchPid + "-1", "another target's");

  write_file_atomically("atomic/f.bin", "new", "file");
  CHECK(slurp("atomic/f.bin") == "new");
  for (const auto& path : killed) CHECK(!fs::exists(path));
  CHECK(fs::exists(working) && fs::exists("atomic/g.bin.tmp-" + kNoSuchPid + "-1"));
  CHECK(fs::is_fifo("atomic/f.bin.tmp-" + kNoSuchPid + "-2"));
  CHECK(std::distance(fs::directory_iterator("atomic"), fs::directory_iterator()) == 4);

  ::close(held);  // the writer dies: its file goes with the next write
  write_file_atomically("atomic/f.bin", "newer", "file");
  CHECK(!fs::exists(working) && slurp("atomic/f.bin") == "newer");
  fs::remove_all("atomic");
}

TEST(errors_name_the_target) {
  CHECK_THROWS(IoError, write_file_atomically("no_such_dir/f.bin", "x", "checkpoint"),
               "cannot write checkpoint 'no_such_dir/f.bin': No such file or directory");
  fs::create_directory("a_folder");
  CHECK_THROWS(IoError, write_file_atomically("a_folder", "x", "file"),
               "cannot write file 'a_folder': it exists and is not a regular file");
  fs::remove("a_folder");
  CHECK_THROWS(std::invalid_argument, write_file_atomically(std::string("a\0b", 3), "x", "file"),
               "file path 'a\\0b' contains a NUL character");
}

TEST_MAIN()
