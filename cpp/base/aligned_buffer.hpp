#pragma once
// A fixed-size, zero-filled array on a 64-byte boundary (one cache line, one
// AVX-512 register): for SIMD loops that read whole registers and rely on
// zero padding lanes.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>

namespace lmn {

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n)
      : data_(static_cast<T*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(T), std::align_val_t(64)))),
        size_(n) {
    std::fill_n(data_.get(), n, T{});
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<T[], Free> data_;
  std::size_t size_ = 0;
};
using AlignedFloats = AlignedBuffer<float>;

}  // namespace lmn
