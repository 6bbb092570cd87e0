/**
 * @file sources/stun.hpp
 * @brief STUN (RFC 8489 Binding) source: a server-reflexive candidate per base, true for the
 *        base's own socket, on libnice's STUN implementation.
 *
 * A Binding request is sent from each UDP base socket to each configured server of the same
 * family. A response counts only when libnice's agent validates it (known transaction id,
 * FINGERPRINT when present) and it comes from the server's address; XOR-MAPPED-ADDRESS and
 * MAPPED-ADDRESS are both understood, and ALTERNATE-SERVER is followed once. The mapped address
 * becomes a srflx for that base (related = base; dropped by the gatherer when it equals the base)
 * and an external-address finding with origin "stun" and the server.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <jgather/address.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

/** @brief When the STUN source completes (besides the give-up budget and the gathering's
 * deadline, which always bound it). */
enum class StunCompletion : std::uint8_t {
    /** When every server has answered or been given up for every base: all mappings, so the
     * network verdict can compare servers (a NAT whose mapping depends on the destination). */
    AllServers,
    /** As soon as every base has one mapping (or all its servers have ended): one round trip
     * to the fastest server, even beside a dead one. Later servers' mappings are not learned. */
    FirstMappingPerBase,
};

/** @brief Servers, retransmission, give-up and completion policy of the STUN source. */
struct StunOptions {
    /** STUN servers (literal IP and port). */
    std::vector<TransportAddress> servers;
    /** First retransmission timeout; doubles after each send (RFC 8489 §6.2.1). RFC 8445 §14.3
     * asks for at least 500 ms during gathering, so that is the default. */
    std::chrono::milliseconds initial_rto{500};
    /** Retransmissions after the first send (RFC 8489 §6.2.1 Rc − 1). */
    unsigned retransmissions = 2;
    /** A server silent this long after the first send is given up (timed-out); the sends are
     * never more frequent than the RTO above, so giving up early only sends fewer packets. */
    std::chrono::milliseconds give_up_after{400};
    /** When the source completes. */
    StunCompletion completion = StunCompletion::AllServers;
};

/** @brief Source that asks STUN servers for each base's mapping. */
class JGATHER_EXPORT StunSource final : public Source {
public:
    explicit StunSource(StunOptions options);
    ~StunSource() override;

    /** Parses "IP:PORT", "[IPv6]:PORT", or a bare IP (port 3478, RFC 8489 §18.1). */
    static Result<TransportAddress> parse_server(std::string_view text);

    std::string name() const override;
    void start(SourceSink& sink) override;
    void stop() override;

private:
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather
