#pragma once
// Generation's products on AMX tiles (Intel Xeon, Sapphire Rapids and
// later): one tile instruction multiplies up to 16 inputs by 16 four-byte
// words of 16 output rows (1 KB of weights), so a step's weights, read
// once, serve a whole batch of samples at almost the cost of one.
//
// The lane blocks of int8_products.hpp and bf16_products.hpp are already
// laid out as a tile's weight operand wants: for word column j (an int8
// quad, or a bfloat16 pair of columns) and register r, 16 words, one per
// output row; 16 columns of one register, rows x 64 bytes apart, are one
// tile. The inputs (bytes, or bfloat16 pairs) are the other tile, one row
// per input. The sums start from zero in the tiles and are stored over
// the caller's (loading the caller's zeros first, and the caller zeroing
// them, was ~2% of a large int8 step of 16 samples).
//
// int8 (tdpbusd): the same exact integer sums as vpdpbusd. bfloat16
// (tdpbf16ps): its own order and rounding (denormals flushed), so where
// tiles are used they take every bfloat16 product, at every batch size:
// a sample drawn in a batch stays the one drawn alone.
//
// Intel Xeon family 6 model 167, one thread: tile loads stream the weights
// at ~55 GB/s from L2 and ~28 from L3 whatever the number of inputs; the
// vector kernels' loads reach ~105 GB/s from L2 but their multiply-adds
// grow with the inputs. So int8 goes to tiles from two inputs on, and one
// input keeps vpdpbusd.
#include <cstdint>
#include <string>

#include "base/bfloat16.hpp"

namespace lmn::amx {

// Why tiles are or are not used here: "" when they are (the CPU has AMX
// with int8 and bfloat16, Linux grants the tile state, and the build's
// lane blocks are 16 words wide), else the reason.
const std::string& unavailable_reason();
bool enabled();             // available and not turned off
void set_enabled(bool on);  // for tests and benchmarks; on takes effect only where available

// Each call configures this thread's tiles (when they are not already set
// for its number of inputs) and releases them at its end, unless a
// TileScope is alive on the thread: then they stay configured until the
// last scope ends (loading the configuration and releasing the tiles per
// call was a third of a melody-sized GRU step). Within a scope no other
// code may use the tiles.
class TileScope {
 public:
  TileScope();
  ~TileScope();
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

constexpr int kMinInt8Inputs = 2;  // inputs from which int8 products go to tiles (see above)
constexpr int kMaxTileInputs = 16;

// For `blocks` lane blocks `block_stride` elements apart with `rows`
// registers per word column, and `count` inputs x + n * x_stride
// (elements): stores the products over word columns [j0, j1) in
// acc[((b * count + n) * rows + r) * 16 + u].
void int8_products(const std::int8_t* first_block, long block_stride, int blocks, int rows, const std::uint8_t* x,
                   long x_stride, int count, int j0, int j1, std::int32_t* acc);
void bf16_products(const BFloat16* first_block, long block_stride, int blocks, int rows, const std::uint32_t* x,
                   long x_stride, int count, int j0, int j1, float* acc);

}  // namespace lmn::amx
