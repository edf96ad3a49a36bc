#pragma once
// A 64-bit fingerprint of values fed one by one (FNV-1a over 64-bit words,
// each mixed once more so nearby values spread). It tells "the same data?"
// with a negligible chance of a false yes; it is no defence against
// someone who builds a collision on purpose.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lmn {

class Fingerprint {
 public:
  Fingerprint& add(std::uint64_t word) {
    word ^= word >> 33;
    word *= 0xFF51AFD7ED558CCDULL;
    word ^= word >> 33;
    hash_ = (hash_ ^ word) * 0x100000001B3ULL;
    return *this;
  }
  // The values' bytes, their count first so that [a, b] + [c] and [a] + [b, c] differ.
  template <typename T>
  Fingerprint& add_values(const T* values, std::size_t count) {
    add(count);
    const auto* bytes = reinterpret_cast<const unsigned char*>(values);
    const std::size_t size = count * sizeof(T);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i, 8);
      add(word);
    }
    std::uint64_t tail = 0;
    if (size > i) std::memcpy(&tail, bytes + i, size - i);
    return add(tail);
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xCBF29CE484222325ULL;
};

}  // namespace lmn
