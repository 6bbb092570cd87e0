// CSPRNG helpers for ICE credentials and identifiers.
#pragma once

#include <cstddef>
#include <string>

namespace jgather::detail {

/**
 * @brief @p length characters from RFC 8445 §5.3's ice-char set (ALPHA / DIGIT / "+" / "/"),
 * each carrying 6 bits from getrandom(2).
 */
std::string random_ice_chars(std::size_t length);

/** @brief @p length characters from [a-z0-9] (for ids and cids: safe in every attribute). */
std::string random_alnum(std::size_t length);

} // namespace jgather::detail
