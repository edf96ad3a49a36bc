#include "generate/int8_products.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/simd.hpp"

namespace lmn::int8 {

namespace {

constexpr int kLanes = simd::kVecWidth;
constexpr int kQuadBytes = 4 * kLanes;  // one register of one quad

inline std::int32_t word_of(const std::uint8_t* p) {
  std::int32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// Portable C++: each word's four products, lane by lane, as defined (the
// reference the tests hold the other kernels to).
template <int Rows, int R>
void portable_quads(const std::int8_t* block, const std::uint8_t* const* x, int j0, int j1, std::int32_t* acc) {
  for (int j = j0; j < j1; ++j) {
    const std::int8_t* quad = block + static_cast<long>(j) * Rows * kQuadBytes;
    for (int r = 0; r < Rows; ++r) {
      const std::int8_t* w = quad + r * kQuadBytes;
      for (int q = 0; q < R; ++q) {
        const std::int32_t x0 = x[q][4 * j], x1 = x[q][4 * j + 1], x2 = x[q][4 * j + 2], x3 = x[q][4 * j + 3];
        std::int32_t* a = acc + (q * Rows + r) * kLanes;
#pragma omp simd
        for (int u = 0; u < kLanes; ++u)
          a[u] += x0 * w[4 * u] + x1 * w[4 * u + 1] + x2 * w[4 * u + 2] + x3 * w[4 * u + 3];
      }
    }
  }
}

#if defined(__x86_64__)
// The sums as int32 lanes, their own type: kept as __m256i / __m512i
// (64-bit lanes), GCC 12 copied every sum into another register and back
// around each vpdpbusd or vpaddd (moves per instruction, and spills).
using Sums256 = std::int32_t __attribute__((vector_size(32)));
using Sums512 = std::int32_t __attribute__((vector_size(64)));

// AVX2 without VNNI: vpmaddubsw multiplies the input bytes by the weights
// and adds pairs into 16 bits (exact for inputs up to kMaxInput:
// int8_products.hpp), vpmaddwd by ones adds those pairs into 32 bits.
//
// A quad's Rows registers are Rows * kLanes words laid out as an input's
// accumulators are, so the kernel runs over 8-word pieces regardless of
// rows (with 4 lanes and odd rows, the last piece has 4 words).
template <int Words>
LMN_TARGET("avx2")
__attribute__((always_inline)) inline void avx2_piece(const std::int8_t* w, __m256i x, Sums256& sum) {
  static_assert(Words == 8 || Words == 4);
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (Words == 8) {
    const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    sum += (Sums256)_mm256_madd_epi16(_mm256_maddubs_epi16(x, weights), ones);
  } else {
    const __m128i weights = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
    const __m128i pairs = _mm_maddubs_epi16(_mm256_castsi256_si128(x), weights);
    sum += (Sums256)_mm256_zextsi128_si256(_mm_madd_epi16(pairs, _mm256_castsi256_si128(ones)));
  }
}

template <int Rows, int R>
LMN_TARGET("avx2")
void avx2_quads(const std::int8_t* block, const std::uint8_t* const* x, int j0, int j1, std::int32_t* acc) {
  constexpr int kWords = Rows * kLanes;  // per quad, and per input's accumulators
  constexpr int kPieces = (kWords + 7) / 8;
  // Pieces summed per pass over the quads: as many as the registers hold
  // (R * kGroup sums, R inputs, a weight and the ones); more passes re-read
  // the quads from L1.
  constexpr int kGroup = [] {
    int g = kPieces;
    while (g > 1 && (kPieces % g != 0 || R * g + R > 14)) --g;
    return g;
  }();
  for (int p0 = 0; p0 < kPieces; p0 += kGroup) {
    Sums256 sums[R][kGroup];
    for (int q = 0; q < R; ++q)
      for (int g = 0; g < kGroup; ++g) sums[q][g] = Sums256{};
    for (int j = j0; j < j1; ++j) {
      const std::int8_t* quad = block + static_cast<long>(j) * kWords * 4;
      __m256i xs[R];
      for (int q = 0; q < R; ++q) xs[q] = _mm256_set1_epi32(word_of(x[q] + 4 * j));
      for (int g = 0; g < kGroup; ++g) {
        const int piece = p0 + g;
        for (int q = 0; q < R; ++q) {
          if (8 * piece + 8 <= kWords) {
            avx2_piece<8>(quad + 32 * piece, xs[q], sums[q][g]);
          } else {
            avx2_piece<4>(quad + 32 * piece, xs[q], sums[q][g]);
          }
        }
      }
    }
    for (int q = 0; q < R; ++q) {
      for (int g = 0; g < kGroup; ++g) {
        std::int32_t* a = acc + q * kWords + 8 * (p0 + g);
        if (8 * (p0 + g) + 8 <= kWords) {
          const __m256i old = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(a), _mm256_add_epi32(old, (__m256i)sums[q][g]));
        } else {
          const __m128i old = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(a),
                           _mm_add_epi32(old, _mm256_castsi256_si128((__m256i)sums[q][g])));
        }
      }
    }
  }
}

// 256-bit VNNI: kLanes / 8 registers per lane block.
template <int Rows, int R>
LMN_TARGET("avx2,avxvnni")
void avxvnni_quads(const std::int8_t* block, const std::uint8_t* const* x, int j0, int j1, std::int32_t* acc) {
  constexpr int kHalves = kLanes >= 8 ? kLanes / 8 : 1;  // chosen only when kLanes is a multiple of 8
  Sums256 a[R][Rows][kHalves];
  for (int q = 0; q < R; ++q)
    for (int r = 0; r < Rows; ++r)
      for (int h = 0; h < kHalves; ++h)
        a[q][r][h] =
            (Sums256)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + (q * Rows + r) * kLanes + 8 * h));
  for (int j = j0; j < j1; ++j) {
    const std::int8_t* quad = block + static_cast<long>(j) * Rows * kQuadBytes;
    __m256i xs[R];
    for (int q = 0; q < R; ++q) xs[q] = _mm256_set1_epi32(word_of(x[q] + 4 * j));
    for (int r = 0; r < Rows; ++r) {
      for (int h = 0; h < kHalves; ++h) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quad + r * kQuadBytes + 32 * h));
        for (int q = 0; q < R; ++q) a[q][r][h] = (Sums256)_mm256_dpbusd_avx_epi32((__m256i)a[q][r][h], xs[q], w);
      }
    }
  }
  for (int q = 0; q < R; ++q)
    for (int r = 0; r < Rows; ++r)
      for (int h = 0; h < kHalves; ++h)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + (q * Rows + r) * kLanes + 8 * h), (__m256i)a[q][r][h]);
}

// One quad into `sums` (a helper, not a lambda: a lambda would not inherit
// the target).
template <int Rows, int R>
LMN_TARGET("avx512f,avx512bw,avx512vnni")
__attribute__((always_inline)) inline void avx512vnni_quad(const std::int8_t* block, const std::uint8_t* const* x,
                                                           int j, Sums512 (&sums)[R][Rows]) {
  const std::int8_t* quad = block + static_cast<long>(j) * Rows * kQuadBytes;
  __m512i xs[R];
  for (int q = 0; q < R; ++q) xs[q] = _mm512_set1_epi32(word_of(x[q] + 4 * j));
  for (int r = 0; r < Rows; ++r) {
    const __m512i w = _mm512_loadu_si512(quad + r * kQuadBytes);
    for (int q = 0; q < R; ++q) sums[q][r] = (Sums512)_mm512_dpbusd_epi32((__m512i)sums[q][r], xs[q], w);
  }
}

// 512-bit VNNI: one register per lane block (builds with 16 lanes).
template <int Rows, int R>
LMN_TARGET("avx512f,avx512bw,avx512vnni")
void avx512vnni_quads(const std::int8_t* block, const std::uint8_t* const* x, int j0, int j1, std::int32_t* acc) {
  // chosen only when kLanes == 16 (available_kernels)
  // Few inputs leave few independent sums: then alternate quads go to a
  // second set, to hide vpdpbusd's latency (integers: the order is free).
  constexpr int kSets = R * Rows >= 8 ? 1 : 2;
  Sums512 a[kSets][R][Rows];
  for (int q = 0; q < R; ++q) {
    for (int r = 0; r < Rows; ++r) {
      a[0][q][r] = (Sums512)_mm512_loadu_si512(acc + (q * Rows + r) * kLanes);
      if constexpr (kSets == 2) a[1][q][r] = Sums512{};
    }
  }
  int j = j0;
  for (; j + kSets <= j1; j += kSets)
    for (int set = 0; set < kSets; ++set) avx512vnni_quad<Rows, R>(block, x, j + set, a[set]);
  for (; j < j1; ++j) avx512vnni_quad<Rows, R>(block, x, j, a[0]);
  for (int q = 0; q < R; ++q) {
    for (int r = 0; r < Rows; ++r) {
      if constexpr (kSets == 2) a[0][q][r] += a[1][q][r];
      _mm512_storeu_si512(acc + (q * Rows + r) * kLanes, (__m512i)a[0][q][r]);
    }
  }
}
#endif

using QuadFn = void (*)(const std::int8_t*, const std::uint8_t* const*, int, int, std::int32_t*);

// Inputs per call: as many as can share each register of weights while
// the sums, the broadcast inputs and the weights all stay in registers: 32
// with AVX-512; VEX-encoded AVX-VNNI reaches 16, so there 4 inputs of 4
// gates spilled sums to the stack on every quad. (The AVX2 kernel groups
// its sums itself.)
constexpr int kMaxInputs = 4;
int max_inputs(Kernel kernel, int rows) {
  if (kernel != Kernel::AvxVnni) return kMaxInputs;
  const int registers_per_input = rows * (kLanes >= 8 ? kLanes / 8 : 1) + 1;  // its sums and its broadcast
  const int free_registers = 16 - 2;                                          // less the weights and a spare
  return std::clamp(free_registers / registers_per_input, 1, kMaxInputs);
}

template <int Rows>
QuadFn pick(Kernel kernel, int count) {
#define LMN_INT8_COUNTS(fn)      \
  switch (count) {               \
    case 1: return fn<Rows, 1>;  \
    case 2: return fn<Rows, 2>;  \
    case 3: return fn<Rows, 3>;  \
    default: return fn<Rows, 4>; \
  }
  switch (kernel) {
#if defined(__x86_64__)
    case Kernel::Avx512Vnni: LMN_INT8_COUNTS(avx512vnni_quads);
    case Kernel::AvxVnni: LMN_INT8_COUNTS(avxvnni_quads);
    case Kernel::Avx2: LMN_INT8_COUNTS(avx2_quads);
#endif
    default: break;
  }
  LMN_INT8_COUNTS(portable_quads);
#undef LMN_INT8_COUNTS
}

Kernel fastest() {
  const std::vector<Kernel> all = available_kernels();
  return all.back();
}

std::atomic<Kernel>& chosen() {
  static std::atomic<Kernel> kernel{fastest()};
  return kernel;
}

}  // namespace

std::string kernel_name(Kernel kernel) {
  switch (kernel) {
    case Kernel::Avx512Vnni: return "avx512_vnni";
    case Kernel::AvxVnni: return "avx_vnni";
    case Kernel::Avx2: return "avx2";
    default: return "portable";
  }
}

std::vector<Kernel> available_kernels() {
  std::vector<Kernel> out{Kernel::Portable};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) out.push_back(Kernel::Avx2);
  if (kLanes % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avxvnni"))
    out.push_back(Kernel::AvxVnni);
  if (kLanes == 16 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"))
    out.push_back(Kernel::Avx512Vnni);
#endif
  return out;
}

Kernel active_kernel() { return chosen().load(); }

void set_kernel(Kernel kernel) {
  for (Kernel k : available_kernels()) {
    if (k == kernel) {
      chosen().store(kernel);
      return;
    }
  }
  throw std::invalid_argument("int8 kernel " + kernel_name(kernel) + " is not available on this CPU or build");
}

void block_products(const std::int8_t* block, int rows, const std::uint8_t* const* x, int count, int j0, int j1,
                    std::int32_t* acc) {
  block_products(block, 0, 1, rows, x, count, j0, j1, acc);
}

void block_products(const std::int8_t* first_block, long stride, int blocks, int rows, const std::uint8_t* const* x,
                    int count, int j0, int j1, std::int32_t* acc) {
  const Kernel kernel = active_kernel();
  const int most = max_inputs(kernel, rows);
  const long acc_stride = static_cast<long>(count) * rows * kLanes;
  for (int q = 0; q < count; q += most) {
    const int n = std::min(count - q, most);
    QuadFn fn = nullptr;
    switch (rows) {
      case 1: fn = pick<1>(kernel, n); break;
      case 3: fn = pick<3>(kernel, n); break;
      case 4: fn = pick<4>(kernel, n); break;
      default: throw std::invalid_argument("int8::block_products: rows must be 1, 3 or 4");
    }
    for (int b = 0; b < blocks; ++b)
      fn(first_block + b * stride, x + q, j0, j1, acc + b * acc_stride + static_cast<long>(q) * rows * kLanes);
  }
}

}  // namespace lmn::int8
