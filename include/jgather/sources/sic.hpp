/**
 * @file sources/sic.hpp
 * @brief Server IP Check (ProtoXEP 0.0.2 `urn:xmpp:sic:0`, XEP-0279 0.2 `urn:xmpp:sic:1`):
 *        the external address the XMPP server sees.
 *
 * One SicService per XmppConnection asks at most once per connection: concurrent and later
 * gatherings share the in-flight query and reuse the answer until the connection is
 * re-established. The query never names another entity (no `to`: the spec's security rule), and
 * a reply counts only from the user's own account (no `from`, or the own bare JID) or the
 * server domain. The sic:1 `<port>` is the c2s TCP source port as the server sees it: kept as a
 * hint (ExternalAddress::observed_port), never used as a UDP port.
 */
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <jgather/export.hpp>
#include <jgather/gloox.hpp>
#include <jgather/source.hpp>

namespace jgather {

/** @brief Which Server IP Check namespace to use. */
enum class SicMode {
    Auto, ///< Ask disco#info on the domain; prefer sic:1, else sic:0.
    Sic1, ///< `\<address xmlns='urn:xmpp:sic:1'/>` without discovery.
    Sic0, ///< The spec's `\<ip xmlns='urn:xmpp:sic:0'/>`, then `\<address/>` on bad-request.
    Off,  ///< Never ask (the source finishes at once with a failure saying so).
};

/** @brief What a Server IP Check query found. */
struct SicAnswer {
    IpAddress ip;                      ///< The external IP (IPv4-mapped IPv6 normalised).
    std::optional<std::uint16_t> port; ///< sic:1 `<port>`: the c2s TCP source port, a hint only.
    std::string ns;                    ///< The namespace that answered.
    std::string server;                ///< The XMPP domain that answered.
};

/**
 * @brief Server IP Check for one XMPP connection; hands out a Source per gathering.
 */
class JGATHER_EXPORT SicService {
public:
    /** Queries over @p connection, which must outlive the service. */
    explicit SicService(xmpp::XmppConnection& connection, SicMode mode = SicMode::Auto);
    ~SicService();
    SicService(const SicService&) = delete;
    SicService& operator=(const SicService&) = delete;

    /** A source (name "sic") that reports this connection's external address. Added to a
     * gathering while the connection is still being made, it waits for it (bounded by the
     * gathering's deadline), so the gathering can start at once. */
    [[nodiscard]] std::unique_ptr<Source> source();
    /** The cached answer for the current connection, if any. */
    [[nodiscard]] std::optional<SicAnswer> answer() const;
    /** How many queries have been sent over the service's life (one per connection at most). */
    [[nodiscard]] unsigned queries_sent() const;

private:
    class Private;
    class Query; // the Source handed out by source()
    std::shared_ptr<Private> d_;
};

/** "auto", "1", "0" or "off". */
JGATHER_EXPORT std::optional<SicMode> parse_sic_mode(std::string_view text);

} // namespace jgather
