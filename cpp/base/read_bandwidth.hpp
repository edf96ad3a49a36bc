#pragma once
// The roofline of a weight-bound step: how fast `threads` threads stream
// `bytes` of memory that they read over and over (each its own contiguous
// share, meeting once per pass, as the generation stepper's threads do), in
// GB/s. The buffer's size decides which cache level (or DRAM) serves it.
#include <cstddef>

namespace lmn {

double read_bandwidth(std::size_t bytes, int threads, double seconds = 0.2);

}  // namespace lmn
