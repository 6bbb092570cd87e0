// Stanza errors (RFC 6120 §8.3) as text for a person, shared by the XMPP sources.
#pragma once

#include <string>

#include <gloox/gloox.h>

namespace gloox {
class Error;
}

namespace jgather::detail {

/** The RFC 6120 §8.3.3 name of @p error ("service-unavailable"). */
std::string condition_name(::gloox::StanzaError error);
/** "condition" or "condition ("text")"; for a missing error, says so. */
std::string describe_error(const ::gloox::Error* error);

} // namespace jgather::detail
