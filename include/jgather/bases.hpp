/**
 * @file bases.hpp
 * @brief Where a gathering's bases come from: the BaseProvider interface.
 *
 * A base is a local address with a UDP port for one ICE component. By default the gatherer
 * enumerates the interfaces and binds its own sockets (make_socket_bases()). An application
 * whose ICE agent owns the sockets (libnice) plugs in a provider that announces the agent's
 * bases instead; the sources run unchanged on either, since they send and receive through the
 * gatherer, never on a socket of their own.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <jgather/address.hpp>
#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

struct GatherOptions;

/** @brief ICE credentials, RFC 8445 §5.3. */
struct IceCredentials {
    std::string ufrag; ///< Username fragment.
    std::string pwd;   ///< Password.
};

/** @brief The bases a provider opened for one gathering. */
struct ProvidedBases {
    std::vector<LocalAddress> local_addresses; ///< Every local address seen, usable or not.
    /** The bases, best local preference first; per address, one per component, component 1
     * first. */
    std::vector<Base> bases;
    std::vector<DroppedAddress> dropped; ///< Local addresses that became no base, with why.
    /** The usable addresses no base could be opened on, with the system's reason (a socket or
     * bind failure: out of descriptors, the port range taken); they are in #dropped too. */
    std::vector<DroppedAddress> unbound;
    /** The credentials of the agent that owns the sockets, if one does (its connectivity checks
     * use them); unset: the gatherer draws fresh ones. */
    std::optional<IceCredentials> credentials;
};

/** @brief A UDP socket bound for an ICE base, owned by the caller once taken. */
struct OwnedSocket {
    unsigned component = 1;   ///< ICE component.
    TransportAddress address; ///< Bound address.
    std::string interface;    ///< Interface name.
    int fd = -1;              ///< The socket; the caller closes it.
    /** Datagrams that arrived while the gathering read the socket and that no source claimed
     * (an early connectivity check from a trickling peer, say), oldest first, each with its
     * sender. At most kMaxUnclaimedDatagrams are kept per socket. */
    std::vector<std::pair<TransportAddress, std::vector<std::uint8_t>>> unclaimed;
};

/** Unclaimed datagrams kept per base socket for the caller; later ones are counted only. */
inline constexpr std::size_t kMaxUnclaimedDatagrams = 16;

/**
 * @brief Provides the bases of one gathering and carries the datagrams of their sockets.
 *
 * Called by the gatherer on the loop's thread only. open() runs inside Gatherer::gather(); the
 * rest while the gathering runs. A provider serves one gathering.
 */
class JGATHER_EXPORT BaseProvider {
public:
    virtual ~BaseProvider();

    /** Short name used in reports ("host"). */
    [[nodiscard]] virtual std::string name() const = 0;
    /** Chooses the local addresses by @p options (GatherOptions::host) and opens the bases:
     * GatherOptions::components per address. An error fails gather(). */
    virtual Result<ProvidedBases> open(const GatherOptions& options) = 0;
    /** Sends @p data from base @p base_index (an index into ProvidedBases::bases) to @p to. */
    virtual Result<void> send(std::size_t base_index, std::span<const std::uint8_t> data,
                              const TransportAddress& to) = 0;
    /** Delivers every datagram arriving on a base to @p receiver, on @p loop, until called
     * again with an empty function; while none is set, the provider leaves its sockets alone. */
    virtual void receive(EventLoop& loop, std::function<void(const Datagram&)> receiver) = 0;
    /** Hands the sockets over to the caller, if the provider owns them; otherwise empty. */
    virtual std::vector<OwnedSocket> take_sockets() = 0;
};

/** The default provider: enumerates the interfaces (rtnetlink), applies HostOptions and binds
 * one non-blocking UDP socket per usable address per component. */
JGATHER_EXPORT std::unique_ptr<BaseProvider> make_socket_bases();

} // namespace jgather
