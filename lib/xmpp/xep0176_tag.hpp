// XEP-0176 reading from a gloox Tag that a parser already built (gloox's Jingle session
// manager hands its plugins Tags, not text).
#pragma once

#include <gloox/tag.h>

#include <jgather/xep0176.hpp>

namespace jgather::xep0176 {

/** read() on a parsed element: the same rules, without printing and parsing it again. */
Result<Transport> read_tag(const gloox::Tag& tag, const ReadOptions& options = {});

} // namespace jgather::xep0176
