// Address and type conversions between libnice and jgather, shared by the adapter's files.
#pragma once

#include <optional>

#include <nice/agent.h>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>

namespace jgather::nice::detail {

/** The address as jgather's, or nothing when it is not a valid IPv4/IPv6 address. */
std::optional<TransportAddress> from_nice_address(const NiceAddress& address);
/** jgather's address as libnice's. */
NiceAddress to_nice_address(const TransportAddress& address);
/** libnice's candidate type as XEP-0176's, or nothing for a value libnice does not define. */
std::optional<IceType> from_nice_type(NiceCandidateType type);
/** XEP-0176's candidate type as libnice's. */
NiceCandidateType to_nice_type(IceType type);

} // namespace jgather::nice::detail
