#pragma once
// A small, seeded, platform-independent random number generator.
// std::uniform_real_distribution differs between standard libraries, so we
// derive floats ourselves to keep runs reproducible everywhere.
#include <array>
#include <cmath>
#include <cstdint>

namespace lmn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    // splitmix64 spreads any seed (even 0) over the xoshiro state.
    for (auto& word : state_) {
      seed += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      word = z ^ (z >> 31);
    }
  }

  // The whole state, to stop a stream and later go on with it (an
  // interrupted epoch's dropout draws). All zeros is no valid state.
  using State = std::array<std::uint64_t, 4>;
  State state() const { return state_; }
  static bool valid(const State& state) { return state != State{}; }
  void restore(const State& state) { state_ = state; }

  // xoshiro256**
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 24 bits of precision (exact in float).
  float uniform() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }
  // Uniform in [0, 1) with 53 bits, for sampling from a distribution.
  double uniform_double() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n), n > 0 (the tiny modulo bias is irrelevant at our sizes).
  std::uint64_t below(std::uint64_t n) { return next_u64() % n; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State state_{};
};

}  // namespace lmn
