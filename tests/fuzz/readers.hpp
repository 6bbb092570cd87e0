// Shared by the libFuzzer targets and the corpus replay test: feed one input to one reader and
// check its invariants — for the XEP readers, whatever a reader accepts the writer writes back
// to the same value; for STUN answers, nothing with a bad FINGERPRINT or a port 0 is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jgather::fuzz {

/** Runs @p reader ("xep0176", "xep0065", "xep0260", or "stun": the STUN source's answer path)
 * on @p data; returns "" or a broken invariant's description. Never throws. */
std::string check_reader(std::string_view reader, const std::uint8_t* data, std::size_t size);

} // namespace jgather::fuzz
