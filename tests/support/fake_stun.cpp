#include "fake_stun.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "socket_address.hpp"

namespace jgather::test {
namespace {

// RFC 8489 §5: the magic cookie; §14.7: the FINGERPRINT XOR constant.
constexpr std::uint32_t kMagicCookie = 0x2112A442;
constexpr std::uint32_t kFingerprintXor = 0x5354554e;

// When the datagram of @p message arrived, on the steady clock: the kernel's SO_TIMESTAMPNS
// stamp (CLOCK_REALTIME) moved by the realtime-to-steady offset of now; now if there is none.
std::chrono::steady_clock::time_point arrival(msghdr& message) {
    const auto now = std::chrono::steady_clock::now();
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec stamp{};
            std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
            const auto kernel =
                std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec);
            const auto age = std::chrono::system_clock::now().time_since_epoch() - kernel;
            return now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(age);
        }
    }
    return now;
}

constexpr std::uint16_t kMappedAddress = 0x0001;
constexpr std::uint16_t kErrorCode = 0x0009;
constexpr std::uint16_t kXorMappedAddress = 0x0020;
constexpr std::uint16_t kSoftware = 0x8022;
constexpr std::uint16_t kAlternateServer = 0x8023;
constexpr std::uint16_t kFingerprint = 0x8028;

// CRC-32 of ISO/IEC 13239 (the one RFC 8489 §14.7 names), bitwise.
std::uint32_t crc32(const std::uint8_t* data, std::size_t length) {
    std::uint32_t crc = 0xFFFFFFFF;
    for (std::size_t i = 0; i < length; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xEDB88320 & (0U - (crc & 1U)));
        }
    }
    return ~crc;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    put16(out, static_cast<std::uint16_t>(value >> 16));
    put16(out, static_cast<std::uint16_t>(value));
}

} // namespace

StunWire& StunWire::attribute(std::uint16_t type, const std::vector<std::uint8_t>& value) {
    put16(attributes_, type);
    put16(attributes_, static_cast<std::uint16_t>(value.size()));
    attributes_.insert(attributes_.end(), value.begin(), value.end());
    while (attributes_.size() % 4 != 0) {
        attributes_.push_back(0); // RFC 8489 §14: values padded to a multiple of 4
    }
    return *this;
}

void StunWire::address(std::uint16_t type, const std::string& ip, std::uint16_t port, bool xored) {
    sockaddr_storage parsed{};
    make_sockaddr(ip, port, parsed);
    const bool v4 = parsed.ss_family == AF_INET;
    std::array<std::uint8_t, 16> bytes{};
    const std::size_t length = v4 ? 4 : 16;
    if (v4) {
        std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in*>(&parsed)->sin_addr, 4);
    } else {
        std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in6*>(&parsed)->sin6_addr, 16);
    }
    if (xored) {
        // RFC 8489 §14.2: the port with the cookie's top 16 bits, the address with the cookie
        // (IPv4) or the cookie followed by the transaction id (IPv6).
        port ^= static_cast<std::uint16_t>(kMagicCookie >> 16);
        std::array<std::uint8_t, 16> key{0x21, 0x12, 0xA4, 0x42};
        std::copy(id_.begin(), id_.end(), key.begin() + 4);
        for (std::size_t i = 0; i < length; ++i) {
            bytes[i] ^= key[i];
        }
    }
    std::vector<std::uint8_t> value = {0, static_cast<std::uint8_t>(v4 ? 0x01 : 0x02)};
    put16(value, port);
    value.insert(value.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    attribute(type, value);
}

StunWire& StunWire::xor_mapped(const std::string& ip, std::uint16_t port) {
    address(kXorMappedAddress, ip, port, true);
    return *this;
}

StunWire& StunWire::mapped(const std::string& ip, std::uint16_t port) {
    address(kMappedAddress, ip, port, false);
    return *this;
}

StunWire& StunWire::alternate_server(const std::string& ip, std::uint16_t port) {
    address(kAlternateServer, ip, port, false);
    return *this;
}

StunWire& StunWire::error_code(int code, const std::string& reason) {
    std::vector<std::uint8_t> value = {0, 0, static_cast<std::uint8_t>(code / 100),
                                       static_cast<std::uint8_t>(code % 100)};
    value.insert(value.end(), reason.begin(), reason.end());
    attribute(kErrorCode, value);
    return *this;
}

StunWire& StunWire::software(const std::string& text) {
    attribute(kSoftware, std::vector<std::uint8_t>(text.begin(), text.end()));
    return *this;
}

StunWire& StunWire::fingerprint(bool correct) {
    // RFC 8489 §14.7: the CRC covers the message up to the attribute, with the header's length
    // already counting the FINGERPRINT attribute's 8 bytes.
    std::vector<std::uint8_t> covered = header(attributes_.size() + 8);
    covered.insert(covered.end(), attributes_.begin(), attributes_.end());
    std::uint32_t value = crc32(covered.data(), covered.size()) ^ kFingerprintXor;
    if (!correct) {
        value ^= 0x00010000;
    }
    std::vector<std::uint8_t> bytes;
    put32(bytes, value);
    attribute(kFingerprint, bytes);
    return *this;
}

std::vector<std::uint8_t> StunWire::header(std::size_t attributes_length) const {
    std::vector<std::uint8_t> out;
    put16(out, type_);
    put16(out, static_cast<std::uint16_t>(attributes_length));
    put32(out, cookie_);
    out.insert(out.end(), id_.begin(), id_.end());
    return out;
}

std::vector<std::uint8_t> StunWire::bytes() const {
    std::vector<std::uint8_t> out = header(attributes_.size());
    out.insert(out.end(), attributes_.begin(), attributes_.end());
    return out;
}

FakeStunServer::FakeStunServer(const std::string& ip, Script script)
    : ip_(ip), script_(std::move(script)) {
    socket_ = bound_socket(ip, SOCK_DGRAM, port_);
    // Arrival times from the kernel: the serving thread may be scheduled late (a loaded machine,
    // a sanitizer build), and timing tests must measure the sender, not this thread.
    const int on = 1;
    setsockopt(socket_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    std::uint16_t other_port = 0;
    other_socket_ = bound_socket(ip, SOCK_DGRAM, other_port);
    thread_ = std::thread([this] { serve(); });
}

FakeStunServer::~FakeStunServer() {
    stopping_ = true;
    thread_.join();
    close(socket_);
    close(other_socket_);
}

std::string FakeStunServer::address() const {
    const std::string host = ip_.find(':') == std::string::npos ? ip_ : "[" + ip_ + "]";
    return host + ":" + std::to_string(port_);
}

std::vector<FakeStunRequest> FakeStunServer::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

bool FakeStunServer::wait_for_requests(std::size_t count, std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    return received_.wait_for(lock, limit, [&] { return requests_.size() >= count; });
}

void FakeStunServer::serve() {
    while (!stopping_) {
        pollfd readable{socket_, POLLIN, 0};
        if (poll(&readable, 1, 20) <= 0) {
            continue; // re-check stopping_ at least every 20 ms
        }
        std::array<std::uint8_t, 1500> buffer{};
        sockaddr_storage from{};
        socklen_t from_length = sizeof from;
        iovec data{buffer.data(), buffer.size()};
        alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control{};
        msghdr message{};
        message.msg_name = &from;
        message.msg_namelen = from_length;
        message.msg_iov = &data;
        message.msg_iovlen = 1;
        message.msg_control = control.data();
        message.msg_controllen = control.size();
        const ssize_t got = recvmsg(socket_, &message, 0);
        from_length = message.msg_namelen;
        if (got < 20) {
            continue;
        }
        FakeStunRequest request;
        request.type = static_cast<std::uint16_t>((buffer[0] << 8) | buffer[1]);
        std::memcpy(request.id.data(), buffer.data() + 8, 12);
        request.cookie = (std::uint32_t{buffer[4]} << 24) | (std::uint32_t{buffer[5]} << 16) |
                         (std::uint32_t{buffer[6]} << 8) | buffer[7];
        request.from_ip = ip_of(from);
        request.from_port = port_of(from);
        {
            std::lock_guard lock(mutex_);
            request.index = static_cast<unsigned>(requests_.size());
            request.at = arrival(message);
            requests_.push_back(request);
        }
        received_.notify_all();
        for (const FakeStunSend& send : script_(request)) {
            sendto(send.from_other_socket ? other_socket_ : socket_, send.bytes.data(),
                   send.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&from), from_length);
        }
    }
}

} // namespace jgather::test
