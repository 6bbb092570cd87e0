/**
 * @file sources/extdisco.hpp
 * @brief XEP-0215 External Service Discovery: the STUN and TURN servers the XMPP server
 *        announces, with their time-limited credentials.
 *
 * One ExtdiscoService per XmppConnection. It asks the server's domain for `<services/>` in
 * `urn:xmpp:extdisco:2`, and in `urn:xmpp:extdisco:1` when the server does not know :2 (prosody
 * answers both; ejabberd :2 only; both refuse a query without `to`). A restricted service that
 * came without credentials is asked for with `<credentials/>` (type, host and port; never
 * `transport`, which ejabberd 23.01 matches wrongly; prosody answers `<credentials/>`, ejabberd
 * `<services/>`: both are read). Host names are resolved on the connection's context without
 * blocking; literal IPs are used as they are. Every service is checked on its own and keeps
 * why it cannot be used (ExternalService::problem): nothing the server says is taken beyond what
 * it can vouch for — no loopback or link-local targets.
 *
 * The answer is cached for the connection until the earliest `expires` comes near
 * (ExtdiscoOptions::refresh_before), shared by concurrent requests, and asked again on the next
 * connection. The service is an IceServerDirectory: hand it to nice::AgentOptions::services, or
 * take stun_source() for the own-socket mode.
 */
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <jgather/export.hpp>
#include <jgather/gloox.hpp>
#include <jgather/ice_servers.hpp>
#include <jgather/source.hpp>
#include <jgather/sources/stun.hpp>

namespace jgather {

/** @brief How the discovery behaves. */
struct ExtdiscoOptions {
    /** A discovery (queries, credentials, name resolution) that has not ended after this long
     * ends with what it has: unanswered queries fail, unresolved names get a problem. */
    std::chrono::milliseconds timeout{5000};
    /** A cached answer is asked again once its earliest `expires` is less than this far away,
     * so that credentials handed to a TURN client are never about to lapse. */
    std::chrono::seconds refresh_before{60};
};

/**
 * @brief External service discovery over one XMPP connection.
 *
 * Every callback runs from the connection's context; results of a request() made while the
 * connection is being set up wait for it. Destroying the service cancels what is pending.
 */
class JGATHER_EXPORT ExtdiscoService final : public IceServerDirectory {
public:
    /** Discovers over @p connection, which must outlive the service. */
    explicit ExtdiscoService(xmpp::XmppConnection& connection, ExtdiscoOptions options = {});
    ~ExtdiscoService() override;
    ExtdiscoService(const ExtdiscoService&) = delete;
    ExtdiscoService& operator=(const ExtdiscoService&) = delete;

    [[nodiscard]] std::optional<ExternalServices> cached() const override;
    std::uint64_t request(Callback done) override;
    void cancel(std::uint64_t id) override;

    /**
     * A STUN source (name "stun") for the own-socket mode: it waits for the services (bounded by
     * the gathering's deadline) and then asks every usable STUN server over UDP the service
     * announced, after those in @p options.servers. It fails with the reason when there is no
     * server at all (discovery failed and none configured).
     */
    [[nodiscard]] std::unique_ptr<Source> stun_source(StunOptions options = {});

    /** How many `<services/>` and `<credentials/>` queries were sent over the service's life. */
    [[nodiscard]] unsigned queries_sent() const;

private:
    class Private;
    class Stun; // the source handed out by stun_source()
    std::shared_ptr<Private> d_;
};

} // namespace jgather
