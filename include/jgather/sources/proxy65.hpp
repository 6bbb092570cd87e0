/**
 * @file sources/proxy65.hpp
 * @brief XEP-0065 proxies the XMPP server offers: discovery, a source of `proxy` candidates,
 *        and activation.
 *
 * Discovery (XEP-0065 §4): disco#items on the server's domain, disco#info of every item, and of
 * each with the identity `proxy`/`bytestreams` a bytestreams query for its streamhost (JID, host,
 * port). Every item is examined, not only the first, each answer checked on its own and each
 * failure kept with its reason (Proxy65Discovery::problems). Observed servers: ejabberd's
 * mod_proxy65 puts a resource on its streamhost JID (kept as given: activation goes to it);
 * prosody's announces its host name unless `proxy65_address` is configured (resolved here on
 * the connection's context without blocking). The answer is cached for the connection and asked
 * again on the next one.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <jgather/address.hpp>
#include <jgather/export.hpp>
#include <jgather/gloox.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

/** @brief One proxy's streamhost, as announced and resolved. */
struct Proxy65 {
    std::string jid;                  ///< The streamhost's JID (activation goes there).
    std::string host;                 ///< Its host as announced: a literal IP or a name.
    std::uint16_t port = 0;           ///< Its TCP port.
    std::vector<IpAddress> addresses; ///< The host's addresses (the literal, or resolved).
};

/** @brief What a discovery found. */
struct Proxy65Discovery {
    std::string server;           ///< The domain asked.
    std::vector<Proxy65> proxies; ///< Every usable proxy, in the order of the server's items.
    /** Why an item or a proxy could not be used, one line each ("proxy.example.org: host name
     * did not resolve: ..."). */
    std::vector<std::string> problems;
    /** Why discovery as a whole failed (not connected, items refused); "" otherwise. */
    std::string error;
};

/** @brief How discovery behaves. */
struct Proxy65Options {
    /** Discovery that has not ended after this long ends with what it has; what was pending is
     * listed in problems. */
    std::chrono::milliseconds timeout{5000};
    /** Ask these proxies' JIDs (e.g. "proxy.example.org") for their streamhost instead of
     * discovering them: a user's choice, or a proxy of another domain. Empty = discover. */
    std::vector<std::string> proxies;
};

/**
 * @brief The proxies of one XMPP connection.
 *
 * Callbacks run from the connection's context, never inside a call. Destroying the service
 * cancels what is pending (a source waiting for it fails with the reason).
 */
class JGATHER_EXPORT Proxy65Service {
public:
    /** Callback of request(). */
    using Callback = std::function<void(const Proxy65Discovery&)>;
    /** Callback of activate(): success, or the proxy's error. */
    using ActivateCallback = std::function<void(const Result<void>&)>;

    /** Discovers over @p connection, which must outlive the service. */
    explicit Proxy65Service(xmpp::XmppConnection& connection, Proxy65Options options = {});
    ~Proxy65Service();
    Proxy65Service(const Proxy65Service&) = delete;
    Proxy65Service& operator=(const Proxy65Service&) = delete;

    /** The answer of this connection, once known. */
    [[nodiscard]] std::optional<Proxy65Discovery> cached() const;
    /** Calls @p done with the answer (cached, or after discovery); returns an id for cancel(). */
    std::uint64_t request(Callback done);
    /** Forgets request @p id: its callback is not called. */
    void cancel(std::uint64_t id);

    /**
     * A source (name "proxy65") that reports every discovered proxy address: the gatherer makes
     * XEP-0260 `proxy` candidates of them when it gathers SOCKS5. It fails with the reason when
     * discovery failed, and succeeds with the problems in its detail otherwise.
     */
    [[nodiscard]] std::unique_ptr<Source> source();

    /**
     * XEP-0065 §6.3.3 / XEP-0260 §2.5: asks @p proxy_jid to activate the bytestream @p sid
     * towards @p target_jid (the initiator has connected to the proxy with DST.ADDR =
     * SHA-1(sid + our full JID + target) and the target too). @p done gets success on the
     * proxy's result, or its error (e.g. "item-not-found", "not-allowed") or a timeout.
     */
    void activate(const std::string& proxy_jid, const std::string& sid,
                  const std::string& target_jid, ActivateCallback done);

private:
    class Private;
    class ProxySource;
    std::shared_ptr<Private> d_;
};

} // namespace jgather
