#include <algorithm>

#include <gloox/sha.h>
#include <gloox/tag.h>

#include <jgather/xep0260.hpp>

#include "xml.hpp"

namespace jgather::xep0260 {
namespace {

constexpr std::size_t kSidMax = 64; // XEP-0065 §5.3.1, shared by XEP-0260
constexpr std::size_t kCidMax = 64;
constexpr std::size_t kSha1HexLength = 40;
// XEP-0260 §2.2 computes priorities the ICE way (RFC 8445 §5.1.2.1): 1 to 2^31 − 1.
constexpr std::uint32_t kPriorityMax = 0x7fffffff;
constexpr std::uint16_t kDefaultPort = 1080; // XEP-0065 §5.3.1

enum TransportAttribute : std::size_t { Sid, Dstaddr, Mode };
constexpr std::array<std::string_view, 3> kTransportAttributes = {"sid", "dstaddr", "mode"};
enum CandidateAttribute : std::size_t { Cid, Host, Jid, Port, Priority, Type };
constexpr std::array<std::string_view, 6> kCandidateAttributes = {"cid",  "host",     "jid",
                                                                  "port", "priority", "type"};

Result<Transport> convert(const gloox::Tag& root, const ReadOptions& options) {
    auto attrs = detail::Attributes::of(root, kTransportAttributes, "transport");
    if (!attrs) {
        return attrs.error();
    }
    Transport transport;
    auto sid = attrs->bounded_text(Sid, kSidMax);
    if (!sid) {
        return sid.error();
    }
    transport.sid = *sid;
    if (attrs->has(Dstaddr)) {
        auto dst = attrs->text(Dstaddr);
        if (!dst) {
            return dst.error();
        }
        const bool hex = std::all_of(dst->begin(), dst->end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        });
        if (dst->size() != kSha1HexLength || !hex) {
            return attrs->error(Dstaddr, "'" + *dst + "' is not a 40-digit SHA-1 hex string");
        }
        transport.dstaddr = *dst;
        std::transform(transport.dstaddr.begin(), transport.dstaddr.end(),
                       transport.dstaddr.begin(),
                       [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c); });
    }
    auto mode = attrs->stream_mode(Mode);
    if (!mode) {
        return mode.error();
    }
    transport.mode = *mode;

    std::size_t index = 0;
    int payloads = 0; // XEP-0260 §2.4/§2.5 elements: one per transport-info
    for (const gloox::Tag* child : root.children()) {
        if (!detail::in_parent_namespace(*child, kNamespace)) {
            continue;
        }
        if (child->name() == "candidate-used" || child->name() == "activated") {
            const std::string cid = child->findAttribute("cid");
            if (cid.empty() || cid.size() > kCidMax) {
                return Error{child->name() + ": attribute 'cid': " +
                             (cid.empty() ? "missing" : "longer than " + std::to_string(kCidMax))};
            }
            (child->name() == "activated" ? transport.activated : transport.candidate_used) = cid;
            ++payloads;
        } else if (child->name() == "candidate-error") {
            transport.candidate_error = true;
            ++payloads;
        } else if (child->name() == "proxy-error") {
            transport.proxy_error = true;
            ++payloads;
        }
        if (payloads > 1) {
            return Error{"transport: more than one of candidate-used, candidate-error, "
                         "activated and proxy-error"};
        }
        if (child->name() != "candidate") {
            continue;
        }
        if (transport.candidates.size() == kMaxCandidates) {
            return Error{"transport: more than " + std::to_string(kMaxCandidates) + " candidates"};
        }
        auto ca = detail::Attributes::of(*child, kCandidateAttributes, "candidate",
                                         static_cast<long>(index++));
        if (!ca) {
            return ca.error();
        }
        Candidate c;
        c.fields = jgather::S5bFields{};
        auto cid = ca->token(Cid, kCidMax);
        if (!cid) {
            return cid.error();
        }
        auto host = ca->text(Host);
        if (!host) {
            return host.error();
        }
        if (auto problem = detail::host_problem(*host)) {
            return ca->error(Host, *problem);
        }
        if (auto literal = IpAddress::parse(*host)) {
            if (auto problem = detail::peer_address_problem(*literal, options)) {
                return ca->error(Host, *problem);
            }
        }
        auto jid = ca->text(Jid);
        if (!jid) {
            return jid.error();
        }
        if (!detail::valid_jid(*jid)) {
            return ca->error(Jid, "'" + *jid + "' is not a valid JID");
        }
        c.port = kDefaultPort;
        if (ca->has(Port)) {
            auto port = ca->port(Port);
            if (!port) {
                return port.error();
            }
            c.port = *port;
        }
        auto priority = ca->number(Priority, 1, kPriorityMax);
        if (!priority) {
            return priority.error();
        }
        c.s5b()->type = S5bType::Direct; // XEP-0260 §2.2: 'type' defaults to direct
        if (ca->has(Type)) {
            auto type_name = ca->text(Type);
            if (!type_name) {
                return type_name.error();
            }
            auto type = parse_s5b_type(*type_name);
            if (!type) {
                return ca->error(Type, "unknown type '" + *type_name +
                                           "' (expected direct, assisted, tunnel or proxy)");
            }
            c.s5b()->type = *type;
        }
        auto literal = IpAddress::parse(*host);
        c.host = literal ? literal->to_string() : *host;
        c.s5b()->cid = *cid;
        c.s5b()->jid = *jid;
        c.priority = *priority;
        for (const Candidate& earlier : transport.candidates) {
            if (earlier.s5b()->cid == c.s5b()->cid) {
                return ca->error(Cid, "'" + c.s5b()->cid + "' is not unique in the transport");
            }
        }
        transport.candidates.push_back(std::move(c));
    }
    return transport;
}

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
        detail::AttributeWriter attrs;
        attrs.add("cid", c.s5b()->cid);
        attrs.add("host", c.host);
        attrs.add("jid", c.s5b()->jid);
        attrs.add("port", std::to_string(c.port));
        attrs.add("priority", std::to_string(c.priority));
        attrs.add("type", std::string(to_string(c.s5b()->type)));
        attrs.apply_to(*tag);
    }
    if (!transport.candidate_used.empty()) {
        (new gloox::Tag(&root, "candidate-used"))->addAttribute("cid", transport.candidate_used);
    }
    if (transport.candidate_error) {
        new gloox::Tag(&root, "candidate-error");
    }
    if (!transport.activated.empty()) {
        (new gloox::Tag(&root, "activated"))->addAttribute("cid", transport.activated);
    }
    if (transport.proxy_error) {
        new gloox::Tag(&root, "proxy-error");
    }
    return root.xml();
}

Result<Transport> read(std::string_view xml, const ReadOptions& options) {
    return detail::read_element<Transport>(
        xml, "transport", kNamespace,
        [&options](const gloox::Tag& root) { return convert(root, options); });
}

} // namespace jgather::xep0260
