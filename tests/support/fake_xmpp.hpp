// Test support: a scripted XMPP server for what real servers cannot be made to do (spoofed
// 'from', malformed answers, late or duplicate replies). Plain TCP on 127.0.0.1 (no STARTTLS),
// SASL PLAIN accepted for anyone, resource binding; then each IQ-get is answered by the script.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace jgather::test {

/** @brief One scripted answer: XML to send (with the query's id put in for {id}), and when. */
struct FakeReply {
    std::string xml;
    int delay_ms = 0;
};

class FakeXmppServer {
public:
    /** @p script gets each IQ-get the client sends and returns the replies to it. */
    explicit FakeXmppServer(std::function<std::vector<FakeReply>(const std::string& iq)> script);
    ~FakeXmppServer();
    FakeXmppServer(const FakeXmppServer&) = delete;
    FakeXmppServer& operator=(const FakeXmppServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    /** Every IQ-get received so far, as text. */
    [[nodiscard]] std::vector<std::string> queries() const;

private:
    void serve();

    std::function<std::vector<FakeReply>(const std::string&)> script_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> queries_;
    std::thread thread_;
};

} // namespace jgather::test
