// The large-block cache: blocks kept only inside a scope, reused for the
// same size, bounded, and all returned when the last scope ends.
#include <cstdint>
#include <vector>

#include "base/block_cache.hpp"
#include "check.hpp"
#include "tensor/matrix.hpp"

using namespace lmn;

namespace {
constexpr int kRows = 2048, kCols = 4096;  // 32 MiB of floats: the smallest block kept
constexpr std::size_t kBytes = std::size_t{kRows} * kCols * sizeof(float);
}  // namespace

TEST(outside_a_scope_nothing_is_kept) {
  {
    Matrix big(kRows, kCols, Matrix::kUninitialized);
  }
  CHECK(block_cache_bytes() == 0);
}

TEST(inside_a_scope_a_freed_block_serves_the_next_request_of_its_size) {
  const BlockCacheScope scope;
  const float* first = nullptr;
  {
    Matrix big(kRows, kCols, Matrix::kUninitialized);
    first = big.data();
  }
  CHECK(block_cache_bytes() == kBytes);
  CHECK(reinterpret_cast<std::uintptr_t>(first) % (std::size_t{2} << 20) == 0);  // on a huge-page boundary
  {
    Matrix other(kRows + 1, kCols, Matrix::kUninitialized);
  }  // another size: a block of its own
  CHECK(block_cache_bytes() == 2 * kBytes + kCols * sizeof(float));
  Matrix again(kRows, kCols, Matrix::kUninitialized);
  CHECK(again.data() == first);
  CHECK(block_cache_bytes() == kBytes + kCols * sizeof(float));
  Matrix small(64, 64);          // below the threshold: plain new/delete
  CHECK(small(63, 63) == 0.0f);  // zero-filled matrices stay zero-filled when reused
}

TEST(a_reused_block_is_filled_when_asked) {
  const BlockCacheScope scope;
  {
    Matrix dirty(kRows, kCols, 7.0f);
  }
  Matrix zeros(kRows, kCols);
  CHECK(zeros(0, 0) == 0.0f && zeros(kRows - 1, kCols - 1) == 0.0f);
}

TEST(the_last_scope_returns_every_block) {
  {
    const BlockCacheScope outer;
    {
      const BlockCacheScope inner;  // e.g. a second model training on another thread
      {
        Matrix big(kRows, kCols, Matrix::kUninitialized);
      }
    }
    CHECK(block_cache_bytes() == kBytes);  // the outer scope still trains
  }
  CHECK(block_cache_bytes() == 0);
}

TEST(the_cache_holds_at_most_its_capacity) {
  const BlockCacheScope scope;
  std::vector<void*> blocks;
  const std::size_t count = kBlockCacheCapacity / kBytes + 2;
  for (std::size_t i = 0; i < count; ++i) blocks.push_back(allocate_block(kBytes));  // never touched: no memory used
  for (void* p : blocks) free_block(p, kBytes);
  CHECK(block_cache_bytes() == kBlockCacheCapacity);
}

int main() { return check::run_all(); }
