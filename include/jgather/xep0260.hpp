/**
 * @file xep0260.hpp
 * @brief XEP-0260 Jingle SOCKS5 Bytestreams `<transport/>`: writer, strict reader, DST.ADDR.
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>

namespace jgather::xep0260 {

/** XEP-0260 namespace. */
inline constexpr std::string_view kNamespace = "urn:xmpp:jingle:transports:s5b:1";
/** Most candidates a reader accepts in one transport. */
inline constexpr std::size_t kMaxCandidates = 64;

/** @brief A Jingle SOCKS5 transport. */
struct Transport {
    std::string sid;                   ///< Stream id (required).
    std::string dstaddr;               ///< SHA-1 hex DST.ADDR, see dstaddr() ("" = absent).
    std::string mode = "tcp";          ///< "tcp" or "udp".
    std::vector<Candidate> candidates; ///< Candidates with transport == Socks5.

    // The transport-info payloads of XEP-0260 §2.4 and §2.5 (at most one is set in a message).

    /** `<candidate-used cid/>`: the sender connected to the receiver's candidate with this cid
     * (§2.4); "" = absent. */
    std::string candidate_used{};
    /** `<candidate-error/>`: the sender could connect to none of the receiver's candidates. */
    bool candidate_error = false;
    /** `<activated cid/>`: the sender activated the proxy of its candidate with this cid
     * (§2.5); "" = absent. */
    std::string activated{};
    /** `<proxy-error/>`: the sender could not connect to or activate its proxy (§2.5). */
    bool proxy_error = false;
};

/**
 * DST.ADDR as XEP-0065 §5.3.2 defines it and XEP-0260 §2.2 uses it:
 * lower-case hex SHA-1 of (sid + initiator full JID + target full JID).
 */
JGATHER_EXPORT std::string dstaddr(std::string_view sid, std::string_view initiator_jid,
                                   std::string_view target_jid);
/** Serialises @p transport as `<transport xmlns='urn:xmpp:jingle:transports:s5b:1'>`. */
JGATHER_EXPORT std::string write(const Transport& transport);
/** Parses one `<transport/>`; rejects what xep0176::read rejects, for these attributes, a
 * `<candidate-used/>` or `<activated/>` without a cid, and more than one of the §2.4/§2.5
 * payloads in one transport. */
JGATHER_EXPORT Result<Transport> read(std::string_view xml, const ReadOptions& options = {});

} // namespace jgather::xep0260
