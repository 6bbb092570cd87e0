// Test support: a scripted STUN server for what real servers cannot be made to do — answers with
// a wrong transaction id, garbage, a bad FINGERPRINT, from another address, redirections, error
// responses, lost requests. Messages are written by hand from RFC 8489 (not with libnice, which
// the code under test uses), so a shared misreading cannot hide.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace jgather::test {

/** @brief A STUN message built attribute by attribute (RFC 8489 §5, §14). */
class StunWire {
public:
    using TransactionId = std::array<std::uint8_t, 12>;

    static constexpr std::uint16_t kBindingRequest = 0x0001;
    static constexpr std::uint16_t kBindingSuccess = 0x0101;
    static constexpr std::uint16_t kBindingError = 0x0111;

    StunWire(std::uint16_t type, const TransactionId& id) : type_(type), id_(id) {}

    /** XOR-MAPPED-ADDRESS (RFC 8489 §14.2). */
    StunWire& xor_mapped(const std::string& ip, std::uint16_t port);
    /** MAPPED-ADDRESS (RFC 8489 §14.1), as RFC 3489 servers send. */
    StunWire& mapped(const std::string& ip, std::uint16_t port);
    /** ALTERNATE-SERVER (RFC 8489 §14.15). */
    StunWire& alternate_server(const std::string& ip, std::uint16_t port);
    /** ERROR-CODE (RFC 8489 §14.8). */
    StunWire& error_code(int code, const std::string& reason);
    /** SOFTWARE (RFC 8489 §14.14). */
    StunWire& software(const std::string& text);
    /** FINGERPRINT (RFC 8489 §14.7), last; @p correct = false writes a wrong CRC. */
    StunWire& fingerprint(bool correct = true);
    /** An RFC 3489 answer: @p first_word (the request's, FakeStunRequest::cookie) where RFC 8489
     * has the magic cookie, since a classic transaction id is 16 bytes long. */
    StunWire& classic(std::uint32_t first_word) {
        cookie_ = first_word;
        return *this;
    }
    /** Any attribute, e.g. one the client cannot know. */
    StunWire& attribute(std::uint16_t type, const std::vector<std::uint8_t>& value);

    [[nodiscard]] std::vector<std::uint8_t> bytes() const;

private:
    void address(std::uint16_t type, const std::string& ip, std::uint16_t port, bool xored);
    [[nodiscard]] std::vector<std::uint8_t> header(std::size_t attributes_length) const;

    std::uint16_t type_;
    TransactionId id_;
    std::uint32_t cookie_ = 0x2112A442; // RFC 8489 §5
    std::vector<std::uint8_t> attributes_;
};

/** @brief A request the fake server received. */
struct FakeStunRequest {
    StunWire::TransactionId id{};
    std::uint16_t type = 0;
    /** The four bytes after the type and length: the magic cookie 0x2112A442 (RFC 8489 §5),
     * or the start of an RFC 3489 client's 16-byte transaction id (libnice's discovery). */
    std::uint32_t cookie = 0;
    std::string from_ip;
    std::uint16_t from_port = 0;
    unsigned index = 0; ///< 0 for the first request received, 1 for the next, ...
    std::chrono::steady_clock::time_point at; ///< When it arrived.
};

/** @brief One datagram the script sends back. */
struct FakeStunSend {
    std::vector<std::uint8_t> bytes;
    bool from_other_socket = false; ///< Send it from the second socket (another port).
};

/** @brief A UDP server on @p ip that answers each STUN request with what its script returns. */
class FakeStunServer {
public:
    using Script = std::function<std::vector<FakeStunSend>(const FakeStunRequest&)>;

    FakeStunServer(const std::string& ip, Script script);
    ~FakeStunServer();
    FakeStunServer(const FakeStunServer&) = delete;
    FakeStunServer& operator=(const FakeStunServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    /** The server as "IP:PORT" or "[IPv6]:PORT". */
    [[nodiscard]] std::string address() const;
    /** Every request received so far. */
    [[nodiscard]] std::vector<FakeStunRequest> requests() const;
    /** Waits until @p count requests have been received; false after @p limit. */
    bool wait_for_requests(std::size_t count, std::chrono::milliseconds limit) const;

private:
    void serve();

    std::string ip_;
    Script script_;
    int socket_ = -1;
    int other_socket_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable received_;
    std::vector<FakeStunRequest> requests_;
    std::thread thread_;
};

} // namespace jgather::test
