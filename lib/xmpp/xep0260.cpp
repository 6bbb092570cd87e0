#include <jgather/xep0260.hpp>

#include "xml.hpp"

#include <gloox/sha.h>
#include <gloox/tag.h>

#include <algorithm>

namespace jgather::xep0260 {
namespace {

constexpr std::size_t kSidMax = 64;  // XEP-0065 §5.3.1, shared by XEP-0260
constexpr std::size_t kCidMax = 64;
constexpr std::size_t kSha1HexLength = 40;
constexpr std::uint32_t kPriorityMax = 0xffffffff;
constexpr std::uint16_t kDefaultPort = 1080; // XEP-0065 §5.3.1

} // namespace

std::string dstaddr(std::string_view sid, std::string_view initiator_jid,
                    std::string_view target_jid) {
    gloox::SHA sha;
    sha.feed(std::string(sid) + std::string(initiator_jid) + std::string(target_jid));
    return sha.hex();
}

std::string write(const Transport& transport) {
    gloox::Tag root("transport");
    root.setXmlns(std::string(kNamespace));
    root.addAttribute("sid", transport.sid);
    if (!transport.dstaddr.empty()) {
        root.addAttribute("dstaddr", transport.dstaddr);
    }
    root.addAttribute("mode", transport.mode);
    for (const Candidate& c : transport.candidates) {
        auto* tag = new gloox::Tag(&root, "candidate");
        tag->addAttribute("cid", c.s5b.cid);
        tag->addAttribute("host", c.host);
        tag->addAttribute("jid", c.s5b.jid);
        tag->addAttribute("port", std::to_string(c.port));
        tag->addAttribute("priority", std::to_string(c.priority));
        tag->addAttribute("type", std::string(to_string(c.s5b.type)));
    }
    return root.xml();
}

Result<Transport> read(std::string_view xml) {
    auto parsed = detail::parse_element(xml, "transport", kNamespace);
    if (!parsed) {
        return parsed.error();
    }
    const gloox::Tag& root = **parsed;
    auto attrs = detail::Attributes::of(root, "transport");
    if (!attrs) {
        return attrs.error();
    }
    Transport transport;
    auto sid = attrs->text("sid");
    if (!sid) return sid.error();
    if (sid->size() > kSidMax) {
        return attrs->error("sid", "longer than " + std::to_string(kSidMax) + " characters");
    }
    transport.sid = *sid;
    if (attrs->has("dstaddr")) {
        auto dst = attrs->text("dstaddr");
        if (!dst) return dst.error();
        const bool hex = std::all_of(dst->begin(), dst->end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        });
        if (dst->size() != kSha1HexLength || !hex) {
            return attrs->error("dstaddr", "'" + *dst + "' is not a 40-digit SHA-1 hex string");
        }
        transport.dstaddr = *dst;
        std::transform(transport.dstaddr.begin(), transport.dstaddr.end(), transport.dstaddr.begin(),
                       [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c); });
    }
    if (attrs->has("mode")) {
        auto mode = attrs->text("mode");
        if (!mode) return mode.error();
        if (*mode != "tcp" && *mode != "udp") {
            return attrs->error("mode", "'" + *mode + "' is not 'tcp' or 'udp'");
        }
        transport.mode = *mode;
    }

    std::size_t index = 0;
    for (const gloox::Tag* child : root.children()) {
        if (child->name() != "candidate" || !detail::in_parent_namespace(*child, kNamespace)) {
            continue;
        }
        if (transport.candidates.size() == kMaxCandidates) {
            return Error{"transport: more than " + std::to_string(kMaxCandidates) + " candidates"};
        }
        const std::string element = "candidate[" + std::to_string(index++) + "]";
        auto ca = detail::Attributes::of(*child, element);
        if (!ca) return ca.error();
        Candidate c;
        c.transport = jgather::Transport::Socks5;
        auto cid = ca->token("cid", kCidMax);
        if (!cid) return cid.error();
        auto host = ca->text("host");
        if (!host) return host.error();
        if (!detail::valid_host(*host)) {
            return ca->error("host", "'" + *host + "' is neither a literal IP nor a host name");
        }
        auto jid = ca->text("jid");
        if (!jid) return jid.error();
        if (!detail::valid_jid(*jid)) {
            return ca->error("jid", "'" + *jid + "' is not a valid JID");
        }
        c.port = kDefaultPort;
        if (ca->has("port")) {
            auto port = ca->port("port");
            if (!port) return port.error();
            c.port = *port;
        }
        auto priority = ca->number("priority", 1, kPriorityMax);
        if (!priority) return priority.error();
        c.s5b.type = S5bType::Direct; // XEP-0260 §2.2: 'type' defaults to direct
        if (ca->has("type")) {
            auto type_name = ca->text("type");
            if (!type_name) return type_name.error();
            auto type = parse_s5b_type(*type_name);
            if (!type) {
                return ca->error("type", "unknown type '" + *type_name +
                                             "' (expected direct, assisted, tunnel or proxy)");
            }
            c.s5b.type = *type;
        }
        auto literal = IpAddress::parse(*host);
        c.host = literal ? literal->to_string() : *host;
        c.s5b.cid = *cid;
        c.s5b.jid = *jid;
        c.priority = *priority;
        for (const Candidate& earlier : transport.candidates) {
            if (earlier.s5b.cid == c.s5b.cid) {
                return ca->error("cid", "'" + c.s5b.cid + "' is not unique in the transport");
            }
        }
        transport.candidates.push_back(std::move(c));
    }
    return transport;
}

} // namespace jgather::xep0260
