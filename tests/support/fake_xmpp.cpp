#include "fake_xmpp.hpp"
#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace jgather::test {
namespace {

constexpr const char* kStreamHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='fake' from='example.org' version='1.0'>";

// The value of attribute @p name in the first tag of @p xml ("" if none).
std::string attribute(const std::string& xml, const std::string& name) {
    const auto end_of_tag = xml.find('>');
    for (const char quote : {'\'', '"'}) {
        const std::string key = " " + name + "=" + quote;
        const auto at = xml.find(key);
        if (at != std::string::npos && at < end_of_tag) {
            const auto start = at + key.size();
            return xml.substr(start, xml.find(quote, start) - start);
        }
    }
    return {};
}

void send_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t sent = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (sent <= 0) {
            return;
        }
        done += static_cast<std::size_t>(sent);
    }
}

} // namespace

FakeXmppServer::FakeXmppServer(std::function<std::vector<FakeReply>(const std::string&)> script)
    : script_(std::move(script)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener_, 4) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
        throw std::runtime_error("fake XMPP server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
}

FakeXmppServer::~FakeXmppServer() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    thread_.join();
    close(listener_);
}

std::vector<std::string> FakeXmppServer::queries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queries_;
}

void FakeXmppServer::serve() {
    pollfd wait_accept{listener_, POLLIN, 0};
    while (!stopping_ && poll(&wait_accept, 1, 50) == 0) {
    }
    if (stopping_) {
        return;
    }
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    std::string in;
    std::size_t seen = 0; // everything before this offset is handled
    int streams = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
        pollfd readable{fd, POLLIN, 0};
        if (poll(&readable, 1, 50) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t got = recv(fd, buffer, sizeof buffer, 0);
        if (got <= 0) {
            break;
        }
        in.append(buffer, static_cast<std::size_t>(got));
        // Handle every complete top-level piece we know, in order.
        for (;;) {
            const std::string rest = in.substr(seen);
            if (rest.find("<stream:stream") != std::string::npos &&
                rest.find('>', rest.find("<stream:stream")) != std::string::npos) {
                seen += rest.find('>', rest.find("<stream:stream")) + 1;
                ++streams;
                send_all(fd, kStreamHeader);
                send_all(
                    fd,
                    streams == 1
                        ? "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                          "<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
                        : "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                          "</stream:features>");
                continue;
            }
            if (rest.find("</auth>") != std::string::npos) {
                seen += rest.find("</auth>") + 7;
                send_all(fd, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
                continue;
            }
            const auto iq_start = rest.find("<iq");
            const auto iq_end = rest.find("</iq>");
            if (iq_start == std::string::npos || iq_end == std::string::npos) {
                break;
            }
            const std::string iq = rest.substr(iq_start, iq_end + 5 - iq_start);
            seen += iq_end + 5;
            const std::string id = attribute(iq, "id");
            if (iq.find("urn:ietf:params:xml:ns:xmpp-bind") != std::string::npos) {
                send_all(fd,
                         "<iq type='result' id='" + id +
                             "'><bind "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>romeo@example.org/fake"
                             "</jid></bind></iq>");
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                queries_.push_back(iq);
            }
            for (FakeReply reply : script_(iq)) {
                if (reply.delay_ms > 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(reply.delay_ms));
                }
                for (auto at = reply.xml.find("{id}"); at != std::string::npos;
                     at = reply.xml.find("{id}")) {
                    reply.xml.replace(at, 4, id);
                }
                send_all(fd, reply.xml);
            }
        }
    }
    close(fd);
}

} // namespace jgather::test
