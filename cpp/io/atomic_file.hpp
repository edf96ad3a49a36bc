#pragma once
// Replacing a file all at once: readers see the old or the new file, never a
// part of one, also after a crash or power loss. Checkpoints are written so,
// and so are the Python layer's history, MIDI-side and WAV files.
//
// The bytes go to a temporary file beside the target, NAME.tmp-PID-RANDOM,
// created exclusively (a writer in another PID namespace, e.g. a container
// sharing the folder, can have the same PID), flushed to disk and renamed
// over the target; then the folder is synced. A symbolic link is followed
// (the file it names is replaced, the link stays), an existing target keeps
// its permission bits, and a target that is not a regular file is refused.
//
// A writer holds an exclusive flock on its temporary file until the rename.
// The next write to the same target removes the temporary files nobody holds
// a lock on: those of writers that were killed. A lock, unlike a PID, also
// tells a writer in another PID namespace apart from a dead one. On a file
// system without flock the PID in the name decides, as before locks.
#include <string>
#include <string_view>

#include "io/io_error.hpp"

namespace lmn {

// Throws IoError ("cannot write WHAT 'PATH': reason", with its errno) or
// std::invalid_argument for a path with a NUL character.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what);

// The C library would silently use a path only up to a NUL ('a\0b' -> 'a').
void check_no_nul(const std::string& path, const std::string& what);

}  // namespace lmn
