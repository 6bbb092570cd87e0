/**
 * @file xep0176.hpp
 * @brief XEP-0176 Jingle ICE-UDP `<transport/>`: writer and strict reader.
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>

namespace jgather::xep0176 {

/** XEP-0176 §4 namespace. */
inline constexpr std::string_view kNamespace = "urn:xmpp:jingle:transports:ice-udp:1";
/** Most candidates a reader accepts in one transport; more is rejected as abuse. */
inline constexpr std::size_t kMaxCandidates = 64;

/** @brief An ICE-UDP transport: credentials and candidates. */
struct Transport {
    std::string ufrag;                 ///< RFC 8445 §5.3 username fragment ("" = absent).
    std::string pwd;                   ///< RFC 8445 §5.3 password ("" = absent).
    std::vector<Candidate> candidates; ///< Candidates with transport == IceUdp.
    /** The sender has no more candidates: an `<end-of-candidates/>` child, the indication
     * XEP-0371 §5 (Jingle ICE, which kept this namespace) adds for trickle ICE (RFC 8838 §8.2).
     * A peer that does not know it ignores it. */
    bool end_of_candidates = false;
};

/** Serialises @p transport as `<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>`. */
JGATHER_EXPORT std::string write(const Transport& transport);
/** The trickle form for a `transport-info`: the credentials and one candidate (XEP-0176 §5.5). */
JGATHER_EXPORT std::string write_trickle(std::string_view ufrag, std::string_view pwd,
                                         const Candidate& candidate);
/** The end-of-candidates indication for a `transport-info`: the credentials and
 * `<end-of-candidates/>`, no candidate. */
JGATHER_EXPORT std::string write_end_of_candidates(std::string_view ufrag, std::string_view pwd);

/**
 * Parses one `<transport/>` element. Rejects: malformed XML, a wrong element or namespace,
 * missing or duplicate attributes, non-numeric or out-of-range numbers, ports outside 1-65535,
 * numbers with leading zeros, unknown types or protocols, IPs that are not literals or where no
 * peer can be (ReadOptions), related addresses on host candidates, credentials that are not
 * ice-chars of RFC 8445 length, characters XML 1.0 §2.2 does not allow or invalid UTF-8 (gloox
 * would silently drop such an attribute), and more than kMaxCandidates.
 */
JGATHER_EXPORT Result<Transport> read(std::string_view xml, const ReadOptions& options = {});

} // namespace jgather::xep0176
