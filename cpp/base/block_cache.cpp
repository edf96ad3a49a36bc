#include "base/block_cache.hpp"

#include <deque>
#include <mutex>
#include <new>
#include <utility>
#include <vector>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace lmn {

namespace {

// Large blocks start on a 2 MiB boundary and ask Linux for transparent huge
// pages (where it grants them on request, the common setting): one page
// fault and one TLB entry per 2 MiB instead of per 4 KiB.
constexpr std::size_t kHugePage = std::size_t{2} << 20;

void* new_block(std::size_t bytes) {
  if (bytes < kCachedBlockBytes) return ::operator new(bytes);
  void* p = ::operator new(bytes, std::align_val_t{kHugePage});
#ifdef __linux__
  madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
  return p;
}

void delete_block(void* p, std::size_t bytes) {
  if (bytes < kCachedBlockBytes) return ::operator delete(p, bytes);
  ::operator delete(p, bytes, std::align_val_t{kHugePage});
}

struct FreeBlock {
  void* p;
  std::size_t bytes;
};

// One cache for the process: models trained on several threads share it.
struct BlockCache {
  std::mutex mutex;
  int scopes = 0;
  std::deque<FreeBlock> blocks;  // oldest first

  std::size_t held() const {
    std::size_t total = 0;
    for (const FreeBlock& b : blocks) total += b.bytes;
    return total;
  }
};

BlockCache& cache() {
  static BlockCache* instance = new BlockCache;  // never destroyed: blocks may be freed during exit
  return *instance;
}

}  // namespace

void* allocate_block(std::size_t bytes) {
  if (bytes >= kCachedBlockBytes) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto it = c.blocks.rbegin(); it != c.blocks.rend(); ++it) {  // newest first: likeliest still in cache
      if (it->bytes == bytes) {
        void* p = it->p;
        c.blocks.erase(std::next(it).base());
        return p;
      }
    }
  }
  return new_block(bytes);
}

void free_block(void* p, std::size_t bytes) {
  if (p == nullptr) return;
  if (bytes < kCachedBlockBytes || bytes > kBlockCacheCapacity) return delete_block(p, bytes);
  std::vector<FreeBlock> to_delete;  // deleted outside the lock
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.scopes == 0) {
      to_delete.push_back({p, bytes});
    } else {
      c.blocks.push_back({p, bytes});
      while (c.held() > kBlockCacheCapacity) {  // oldest out
        to_delete.push_back(c.blocks.front());
        c.blocks.pop_front();
      }
    }
  }
  for (const FreeBlock& b : to_delete) delete_block(b.p, b.bytes);
}

std::size_t block_cache_bytes() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.held();
}

BlockCacheScope::BlockCacheScope() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  ++c.scopes;
}

BlockCacheScope::~BlockCacheScope() {
  BlockCache& c = cache();
  std::deque<FreeBlock> released;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (--c.scopes == 0) released.swap(c.blocks);
  }
  for (const FreeBlock& b : released) delete_block(b.p, b.bytes);
}

}  // namespace lmn
