// Interface enumeration over rtnetlink: addresses with the kernel's IPv6 flags and link kinds,
// which getifaddrs(3) does not report.
#pragma once

#include <vector>

#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather::detail {

/** Every address of every interface in the calling thread's network namespace. */
Result<std::vector<LocalAddress>> enumerate_local_addresses();

/** Classifies an interface by name and kernel link kind (see InterfaceKind). */
InterfaceKind classify_interface(std::string_view name, std::string_view link_kind,
                                 bool is_loopback_link);

} // namespace jgather::detail
