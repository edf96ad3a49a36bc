#pragma once
// Reuse of very large blocks during training. glibc's malloc maps every block
// of 32 MiB or more afresh and unmaps it on free, so each training step of a
// big model (the large LSTM's (T*B, 4H) gate buffers are 33.5 MB) paid page
// faults and the kernel zeroing every page again: 7% of its step on Zen 4.
// While a BlockCacheScope is alive (the trainer holds one per fit), freed
// blocks that size are kept and handed out again to requests of the same
// size; when the last scope ends they are returned to the system. Outside a
// scope, and for smaller blocks, this is plain operator new / delete. Blocks
// that size also start on a 2 MiB boundary and ask Linux for transparent
// huge pages, so a fit's first step faults each in 2 MiB pages, not 4 KiB.
#include <cstddef>

namespace lmn {

// The smallest block kept: glibc's largest mmap threshold on 64-bit.
inline constexpr std::size_t kCachedBlockBytes = std::size_t{32} << 20;
// The most freed bytes kept at once; the oldest blocks go first beyond it.
inline constexpr std::size_t kBlockCacheCapacity = std::size_t{1} << 30;

void* allocate_block(std::size_t bytes);
void free_block(void* p, std::size_t bytes);
// Freed bytes held right now (for tests).
std::size_t block_cache_bytes();

class BlockCacheScope {
 public:
  BlockCacheScope();
  ~BlockCacheScope();
  BlockCacheScope(const BlockCacheScope&) = delete;
  BlockCacheScope& operator=(const BlockCacheScope&) = delete;
};

}  // namespace lmn
