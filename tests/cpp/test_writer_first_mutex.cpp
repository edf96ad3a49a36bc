// The per-model lock of the Python bindings: while a writer waits, readers
// that come later wait too (std::shared_mutex let them in, so threads that
// kept reading starved a writer for seconds).
#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "base/writer_first_mutex.hpp"
#include "check.hpp"

using namespace lmn;

TEST(a_waiting_writer_keeps_later_readers_out) {
  WriterFirstMutex mutex;
  mutex.lock_shared();  // a long read
  std::atomic<bool> written{false};
  std::thread writer([&] {
    const std::unique_lock lock(mutex);
    written = true;
  });
  // Once the writer waits, a new reader is refused; with readers first it
  // would get in every time and this loop would run to its limit.
  bool refused = false;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!refused && std::chrono::steady_clock::now() < limit) {
    if (mutex.try_lock_shared()) {
      mutex.unlock_shared();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else {
      refused = true;
    }
  }
  CHECK(refused);
  CHECK(!written);  // the long read still holds it
  mutex.unlock_shared();
  writer.join();
  CHECK(written);
  CHECK(mutex.try_lock_shared());  // free again
  mutex.unlock_shared();
}

TEST(readers_share_and_a_writer_is_alone) {
  WriterFirstMutex mutex;
  mutex.lock_shared();
  CHECK(mutex.try_lock_shared());  // no writer waits: readers share
  CHECK(!mutex.try_lock());
  mutex.unlock_shared();
  mutex.unlock_shared();
  CHECK(mutex.try_lock());
  CHECK(!mutex.try_lock_shared());
  mutex.unlock();
}

TEST_MAIN()
