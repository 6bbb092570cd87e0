/**
 * @file sources/stun.hpp
 * @brief STUN (RFC 8489 Binding) source: a server-reflexive candidate per base, true for the
 *        base's own socket, on libnice's STUN implementation.
 *
 * A Binding request is sent from each base to each configured server of the same family,
 * through the gatherer (SourceSink::send_datagram), paced by Ta. A response counts only when it
 * is a whole Binding response with our transaction id, on the base that asked, from the
 * server's address, with a correct FINGERPRINT when it has one, and libnice's agent validates
 * it; XOR-MAPPED-ADDRESS and MAPPED-ADDRESS are both understood, and ALTERNATE-SERVER is
 * followed once. A mapping of another family than the base's, or one that cannot be an
 * external address (external_address_problem()), fails that server. The mapped address becomes
 * a srflx for that base (related = base; dropped by the gatherer when it equals the base) and an
 * external-address finding with origin "stun" and the server.
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

/** @brief Which STUN transactions Ta paces together. */
enum class StunPacingScope : std::uint8_t {
    /** RFC 8445 §14.2: besides each gathering's own Ta, the transactions of all gatherings on
     * the loop together start no more often than once every 5 ms ("as though there were one
     * global Ta value for pacing all agents"), first come first started. A burst of N
     * gatherings with one server and one base sends its N requests over N × 5 ms; a gathering
     * whose turn would come too late for its deadline fails at once, saying so. */
    Loop,
    /** Only the gathering's own Ta, as libnice paces each agent: a burst of gatherings sends
     * at once. This departs from RFC 8445 §14.2; it is for a server-side component that asks
     * a STUN server of its own, sized for the burst. */
    Gathering,
};

/** @brief Servers, schedule and completion policy of the STUN source.
 *
 * The schedule of one transaction (base × server): sends at 0, RTO, 3·RTO, 7·RTO, ... (RFC 8489
 * §6.2.1: the RTO doubles after each send), `retransmissions` of them after the first, then
 * `final_wait` for an answer before the server is given up for that base. New transactions
 * start `pacing` apart (RFC 8445 §14.2's Ta), the first server of every base first, and, with
 * the default `pacing_scope`, 5 ms or more after any other gathering's on the same loop. Every
 * setting takes effect as given; validate() refuses the combinations that cannot.
 */
struct JGATHER_EXPORT StunOptions {
    /** STUN servers (literal IP and port). */
    std::vector<TransportAddress> servers;
    /** First retransmission timeout; doubles after each send (RFC 8489 §6.2.1). RFC 8445 §14.3
     * asks for at least 500 ms during gathering, so that is the default. */
    std::chrono::milliseconds initial_rto{500};
    /** Retransmissions after the first send (RFC 8489 §6.2.1 Rc − 1). None by default: with
     * one send and final_wait 400 ms a dead server costs 0.4 s; lossy links raise this. */
    unsigned retransmissions = 0;
    /** How long an answer is waited for after the last send before that server is given up
     * for that base (timed-out). RFC 8489 §6.2.1 waits Rm·RTO = 16 × 500 ms; a gathering that
     * must finish in seconds waits less. Must be 1 ms or more. */
    std::chrono::milliseconds final_wait{400};
    /** Ta: the gap between the starts of two transactions (RFC 8445 §14.2: configurable,
     * default 50 ms, never below 5 ms). Retransmissions follow their own RTO. */
    std::chrono::milliseconds pacing{50};
    /** Whether the loop's other gatherings count too (RFC 8445 §14.2's 5 ms across agents). */
    StunPacingScope pacing_scope = StunPacingScope::Loop;
    /** When the source completes. */
    StunCompletion completion = StunCompletion::AllServers;
    /**
     * Health memory: a server that answered none of a gathering's requests is remembered as
     * silent for this long (per process and network namespace). Later gatherings skip it at
     * once instead of waiting for it again (the skip is reported with its reason) and probe it
     * in the background; any answer to a probe or a request forgets the silence, so a server
     * that comes back is used from the next gathering on. 0: nothing is remembered.
     */
    std::chrono::milliseconds remember_silence{30000};
    /** While a server is remembered silent, a gathering that skips it probes it (one Binding
     * request from a socket of its own, waited for final_wait) at most this often. */
    std::chrono::milliseconds probe_interval{2000};

    /** Checks the settings: servers usable (a literal unicast address, port 1-65535), pacing
     * 5 ms or more (RFC 8445 §14.2), initial_rto and final_wait positive. The message names the
     * setting. StunSource fails with the same message when started with options that fail. */
    [[nodiscard]] Result<void> validate() const;
    /** When the last transaction's last send goes out, and when it is given up, after the first
     * send, for @p transactions transactions (the schedule above). */
    [[nodiscard]] std::chrono::milliseconds last_send_at(std::size_t transactions) const;
    /** last_send_at() + final_wait: the longest the source can take for @p transactions. */
    [[nodiscard]] std::chrono::milliseconds give_up_at(std::size_t transactions) const;
};

/** @brief Source that asks STUN servers for each base's mapping. */
class JGATHER_EXPORT StunSource final : public Source {
public:
    /** A source with @p options (checked with StunOptions::validate() when started). */
    explicit StunSource(StunOptions options);
    ~StunSource() override;

    /** Parses "IP:PORT", "[IPv6]:PORT", or a bare IP (port 3478, RFC 8489 §18.1), with
     * TransportAddress::parse(). */
    static Result<TransportAddress> parse_server(std::string_view text);

    std::string name() const override;
    void start(SourceSink& sink) override;
    void stop() override;

private:
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather
