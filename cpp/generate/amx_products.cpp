#include "generate/amx_products.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include "base/simd.hpp"

// The emulated-AVX-512 test core models vector instructions, not tiles.
#if defined(__x86_64__) && defined(__linux__) && !defined(LSTMININET_EMULATE_AVX512)
#define LMN_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lmn::amx {

namespace {

constexpr int kWordBytes = 4;   // an int8 quad or a bfloat16 pair
constexpr int kTileBytes = 64;  // a tile row: 16 words
constexpr int kTileWords = kTileBytes / kWordBytes;

std::string find_unavailable_reason() {
#if defined(LMN_AMX)
  if (simd::kVecWidth != kTileWords) return "lane blocks of this build are not 16 words wide";
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return "the CPU has no AMX";
  const bool tile = d >> 24 & 1, int8 = d >> 25 & 1, bf16 = d >> 22 & 1;
  if (!(tile && int8 && bf16)) return "the CPU has no AMX";
  // Linux enables the tile state only for processes that ask for it
  // (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); without, a tile
  // instruction raises SIGILL.
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return "Linux did not grant the tile state";
  return "";
#else
  return "no tile kernels in this build (x86-64 Linux only, not the emulated AVX-512 core)";
#endif
}

std::atomic<bool>& turned_on() {
  static std::atomic<bool> on{true};
  return on;
}

#if defined(LMN_AMX)
#define LMN_AMX_TARGET __attribute__((target("amx-tile,amx-int8,amx-bf16")))

// Tiles 0-3 hold sums, 4 the inputs, 5-7 weights (in turn, so a load need
// not wait for the product reading the tile before it).
struct TileConfig {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t bytes_per_row[16] = {};
  std::uint8_t rows[16] = {};
};

// The rows of inputs the tiles of this thread are configured for (0: not
// configured), and whether a TileScope keeps them so between calls.
thread_local int configured_inputs = 0;
thread_local int scopes = 0;

LMN_AMX_TARGET void configure(int inputs) {
  if (inputs == configured_inputs) return;
  configured_inputs = inputs;
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = static_cast<std::uint8_t>(t < 5 ? inputs : kTileWords);
    config.bytes_per_row[t] = kTileBytes;
  }
  // (not _tile_loadconfig: GCC 12 dropped the stores of bytes_per_row
  // before it, as if the instruction did not read them)
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
}

LMN_AMX_TARGET void release_tiles() {
  if (configured_inputs == 0) return;
  _tile_release();
  configured_inputs = 0;
}

// The products of up to 4 (block, register) weight tiles w[i] over word
// columns [j0, j1) with `inputs` rows of x (configured), stored as the
// sums at c[i]. Starts on a cache line, so its loop sits the same way
// whatever code comes before it: with the function unchanged, 16 int8
// samples of the large GRU ran 3% slower after 7048b84 grew other code.
template <bool kInt8>
LMN_AMX_TARGET __attribute__((aligned(64))) void tile_pass(const char* const* w, long w_stride, int tiles,
                                                           const char* x, long x_stride, int inputs, int j0, int j1,
                                                           char* const* c, long c_stride) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
#define LMN_PRODUCT(T, B, weights, stride) \
  if (tiles > T) {                         \
    _tile_loadd(B, weights, stride);       \
    if constexpr (kInt8) {                 \
      _tile_dpbusd(T, 4, B);               \
    } else {                               \
      _tile_dpbf16ps(T, 4, B);             \
    }                                      \
  }
  int j = j0;
  for (; j + kTileWords <= j1; j += kTileWords) {
    const long at = j * w_stride;
    _tile_loadd(4, x + j * kWordBytes, x_stride);
    LMN_PRODUCT(0, 5, w[0] + at, w_stride);
    LMN_PRODUCT(1, 6, w[1] + at, w_stride);
    LMN_PRODUCT(2, 7, w[2] + at, w_stride);
    LMN_PRODUCT(3, 5, w[3] + at, w_stride);
  }
  if (j < j1) {  // the last columns, zero-padded to a whole tile (zeros add nothing)
    const int left = j1 - j;
    alignas(64) char padded_x[kTileWords * kTileBytes] = {};
    alignas(64) char padded_w[4][kTileWords * kTileBytes] = {};
    for (int n = 0; n < inputs; ++n)
      std::memcpy(padded_x + n * kTileBytes, x + n * x_stride + j * kWordBytes, left * kWordBytes);
    for (int i = 0; i < tiles; ++i)
      for (int k = 0; k < left; ++k) std::memcpy(padded_w[i] + k * kTileBytes, w[i] + (j + k) * w_stride, kTileBytes);
    _tile_loadd(4, padded_x, kTileBytes);
    LMN_PRODUCT(0, 5, padded_w[0], kTileBytes);
    LMN_PRODUCT(1, 6, padded_w[1], kTileBytes);
    LMN_PRODUCT(2, 7, padded_w[2], kTileBytes);
    LMN_PRODUCT(3, 5, padded_w[3], kTileBytes);
  }
#undef LMN_PRODUCT
#define LMN_STORE_SUM(T) \
  if (tiles > T) _tile_stored(T, c[T], c_stride)
  LMN_STORE_SUM(0);
  LMN_STORE_SUM(1);
  LMN_STORE_SUM(2);
  LMN_STORE_SUM(3);
#undef LMN_STORE_SUM
}

// Every (block, register) tile, four at a time, for inputs in groups of
// up to 16 (the sums' and the inputs' tile rows); sizes in bytes.
template <bool kInt8>
LMN_AMX_TARGET void tile_products(const char* first_block, long block_stride, int blocks, int rows, const char* x,
                                  long x_stride, int count, int j0, int j1, char* acc) {
  // A register's word columns are rows x 64 bytes apart, and so are the
  // sums of consecutive inputs (rows registers of 16 lanes each).
  const long w_stride = static_cast<long>(rows) * kTileBytes, sum_stride = w_stride;
  const int tiles = blocks * rows;
  for (int n0 = 0; n0 < count; n0 += kMaxTileInputs) {
    const int inputs = std::min(kMaxTileInputs, count - n0);
    configure(inputs);
    for (int t0 = 0; t0 < tiles; t0 += 4) {
      const char* w[4] = {};
      char* c[4] = {};
      const int pass = std::min(4, tiles - t0);
      for (int i = 0; i < pass; ++i) {
        const int b = (t0 + i) / rows, r = (t0 + i) % rows;
        w[i] = first_block + b * block_stride + r * kTileBytes;
        c[i] = acc + ((static_cast<long>(b) * count + n0) * rows + r) * kTileBytes;
      }
      tile_pass<kInt8>(w, w_stride, pass, x + n0 * x_stride, x_stride, inputs, j0, j1, c, sum_stride);
    }
  }
  if (scopes == 0) release_tiles();
}
#else
// Never reached (enabled() is false without tile kernels).
template <bool kInt8>
void tile_products(const char*, long, int, int, const char*, long, int, int, int, char*) {}
#endif

void check_enabled(const char* what) {
  if (!enabled()) throw std::logic_error(std::string("amx::") + what + ": AMX tiles are not enabled");
}

}  // namespace

const std::string& unavailable_reason() {
  static const std::string reason = find_unavailable_reason();
  return reason;
}

bool enabled() { return unavailable_reason().empty() && turned_on().load(std::memory_order_relaxed); }

void set_enabled(bool on) { turned_on().store(on); }

TileScope::TileScope() {
#if defined(LMN_AMX)
  ++scopes;
#endif
}

TileScope::~TileScope() {
#if defined(LMN_AMX)
  if (--scopes == 0) release_tiles();
#endif
}

void int8_products(const std::int8_t* first_block, long block_stride, int blocks, int rows, const std::uint8_t* x,
                   long x_stride, int count, int j0, int j1, std::int32_t* acc) {
  check_enabled("int8_products");
  if (j1 <= j0) {  // no columns: zero sums
    std::fill_n(acc, static_cast<long>(blocks) * count * rows * kTileWords, 0);
    return;
  }
  if (blocks == 0 || count == 0) return;
  tile_products<true>(reinterpret_cast<const char*>(first_block), block_stride, blocks, rows,
                      reinterpret_cast<const char*>(x), x_stride, count, j0, j1, reinterpret_cast<char*>(acc));
}

void bf16_products(const BFloat16* first_block, long block_stride, int blocks, int rows, const std::uint32_t* x,
                   long x_stride, int count, int j0, int j1, float* acc) {
  check_enabled("bf16_products");
  if (j1 <= j0) {
    std::fill_n(acc, static_cast<long>(blocks) * count * rows * kTileWords, 0.0f);
    return;
  }
  if (blocks == 0 || count == 0) return;
  tile_products<false>(reinterpret_cast<const char*>(first_block), block_stride * 2, blocks, rows,
                       reinterpret_cast<const char*>(x), x_stride * kWordBytes, count, j0, j1,
                       reinterpret_cast<char*>(acc));
}

}  // namespace lmn::amx
