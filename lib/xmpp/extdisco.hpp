// XEP-0215 External Service Discovery: reading `<services/>` and `<credentials/>` answers, and
// the checks every announced service goes through before anything is sent to it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gloox/tag.h>

#include <jgather/ice_servers.hpp>
#include <jgather/result.hpp>

namespace jgather::detail {

/** XEP-0215 1.0 namespace (ejabberd answers this one only). */
inline constexpr const char* kExtdisco2 = "urn:xmpp:extdisco:2";
/** The namespace of XEP-0215 before 0.7 (prosody still answers it). */
inline constexpr const char* kExtdisco1 = "urn:xmpp:extdisco:1";

/** Most services read from one answer (hostile input bound; servers announce a handful). */
inline constexpr std::size_t kMaxServices = 32;
/** RFC 8489 §14.3: USERNAME is less than 513 bytes. The password gets the same bound. */
inline constexpr std::size_t kMaxCredentialLength = 512;

/**
 * The `<service/>` children of @p element (`<services/>` or `<credentials/>`, in its own
 * namespace), in order. Each service is checked on its own: a bad attribute makes that
 * service's ExternalService::problem (naming the attribute), never the whole answer's. An
 * error only for more than kMaxServices services. @p now decides whether `expires` has passed.
 * Literal hosts fill `addresses` (after target_problem()); host names are left to resolve.
 */
Result<std::vector<ExternalService>> read_services(const gloox::Tag& element,
                                                   std::chrono::system_clock::time_point now);

/** An XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm). */
Result<std::chrono::system_clock::time_point> parse_datetime(std::string_view text);

/** Why a server-announced service may not be sent to @p ip (external_address_problem():
 * loopback, link-local, unspecified, multicast, reserved), or nothing. A server can only vouch
 * for servers reachable from the outside; a loopback or link-local target would make the
 * client talk to whatever runs on its own host or link. */
std::optional<std::string> target_problem(const IpAddress& ip);

} // namespace jgather::detail
