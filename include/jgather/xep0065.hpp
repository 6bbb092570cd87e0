/**
 * @file xep0065.hpp
 * @brief XEP-0065 SOCKS5 Bytestreams `<query/>` with streamhosts: writer and strict reader.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>

namespace jgather::xep0065 {

/** XEP-0065 namespace. */
inline constexpr std::string_view kNamespace = "http://jabber.org/protocol/bytestreams";
/** Most streamhosts a reader accepts in one query. */
inline constexpr std::size_t kMaxStreamhosts = 64;
/** XEP-0065 §5.3.1: the port when a streamhost names none. */
inline constexpr std::uint16_t kDefaultPort = 1080;

/** @brief One `<streamhost/>`. */
struct Streamhost {
    std::string jid;  ///< The offering entity's full JID, or the proxy's JID.
    std::string host; ///< Literal IP, or a host name (kept as text, never resolved).
    std::uint16_t port = kDefaultPort; ///< TCP port.

    /** Member-wise equality. */
    bool operator==(const Streamhost&) const = default;
};

/** @brief A `<query/>` offering streamhosts. */
struct Query {
    std::string sid;          ///< Stream id (required, 1-64 characters as XEP-0065 §5.3.1 asks).
    std::string mode = "tcp"; ///< "tcp" or "udp".
    std::vector<Streamhost> streamhosts; ///< In order of preference.
};

/** Streamhosts for gathered S5B candidates, in the order given (use GatherResult::s5b). */
JGATHER_EXPORT std::vector<Streamhost> streamhosts_from(const std::vector<Candidate>& candidates);
/** Serialises @p query as `<query xmlns='http://jabber.org/protocol/bytestreams'>`. */
JGATHER_EXPORT std::string write(const Query& query);
/** Parses one `<query/>`; rejects what xep0176::read rejects, for these attributes. */
JGATHER_EXPORT Result<Query> read(std::string_view xml, const ReadOptions& options = {});

} // namespace jgather::xep0065
