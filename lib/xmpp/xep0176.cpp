#include <jgather/xep0176.hpp>

#include "xml.hpp"

#include <gloox/tag.h>

namespace jgather::xep0176 {
namespace {

// RFC 8445 §5.3 minimum lengths; RFC 8839 §5.4 caps both at 256 characters.
constexpr std::size_t kUfragMin = 4;
constexpr std::size_t kPwdMin = 22;
constexpr std::size_t kCredentialMax = 256;
// RFC 8445 §5.1.1.3: a foundation is 1-32 ice-chars.
constexpr std::size_t kFoundationMax = 32;
// XEP-0176 §5.3: 'generation' is an xs:unsignedByte. 'network' is too in the schema, but
// jgather writes the kernel interface index there (issue #2), which can exceed 255 inside
// containers, so the reader accepts an unsignedShort.
constexpr std::uint32_t kGenerationMax = 255;
constexpr std::uint32_t kNetworkMax = 65535;
// RFC 8445 §5.1.2.1: priority is a positive 32-bit integer (2^31 − 1 at most), component 1-256.
constexpr std::uint32_t kPriorityMax = 0x7fffffff;
constexpr std::uint32_t kComponentMax = 256;
// XEP-0176 §5.3: 'id' is an xs:NMTOKEN; a bound keeps hostile input small.
constexpr std::size_t kIdMax = 64;

gloox::Tag* candidate_tag(gloox::Tag* parent, const Candidate& c) {
    auto* tag = new gloox::Tag(parent, "candidate");
    tag->addAttribute("component", std::to_string(c.ice.component));
    tag->addAttribute("foundation", c.ice.foundation);
    tag->addAttribute("generation", std::to_string(c.ice.generation));
    tag->addAttribute("id", c.ice.id);
    tag->addAttribute("ip", c.host);
    tag->addAttribute("network", std::to_string(c.ice.network));
    tag->addAttribute("port", std::to_string(c.port));
    tag->addAttribute("priority", std::to_string(c.priority));
    tag->addAttribute("protocol", "udp");
    tag->addAttribute("type", std::string(to_string(c.ice.type)));
    // XEP-0176 §5.3: rel-addr/rel-port only for non-host candidates.
    if (c.ice.type != IceType::Host && c.ice.related) {
        tag->addAttribute("rel-addr", c.ice.related->ip.to_string());
        tag->addAttribute("rel-port", std::to_string(c.ice.related->port));
    }
    return tag;
}

std::string write_transport(std::string_view ufrag, std::string_view pwd,
                            const std::vector<const Candidate*>& candidates) {
    gloox::Tag transport("transport");
    transport.setXmlns(std::string(kNamespace));
    if (!ufrag.empty()) {
        transport.addAttribute("ufrag", std::string(ufrag));
    }
    if (!pwd.empty()) {
        transport.addAttribute("pwd", std::string(pwd));
    }
    for (const Candidate* c : candidates) {
        candidate_tag(&transport, *c);
    }
    return transport.xml();
}

Result<Candidate> read_candidate(const gloox::Tag& tag, std::size_t index) {
    auto attrs_result = detail::Attributes::of(tag, "candidate[" + std::to_string(index) + "]");
    if (!attrs_result) {
        return attrs_result.error();
    }
    const detail::Attributes& attrs = *attrs_result;
    Candidate c;
    c.transport = jgather::Transport::IceUdp;

    auto component = attrs.number("component", 1, kComponentMax);
    if (!component) return component.error();
    auto foundation = attrs.ice_chars("foundation", 1, kFoundationMax);
    if (!foundation) return foundation.error();
    auto generation = attrs.number("generation", 0, kGenerationMax);
    if (!generation) return generation.error();
    auto id = attrs.token("id", kIdMax);
    if (!id) return id.error();
    auto ip = attrs.ip("ip");
    if (!ip) return ip.error();
    auto network = attrs.number("network", 0, kNetworkMax);
    if (!network) return network.error();
    auto port = attrs.port("port");
    if (!port) return port.error();
    auto priority = attrs.number("priority", 1, kPriorityMax);
    if (!priority) return priority.error();
    auto protocol = attrs.text("protocol");
    if (!protocol) return protocol.error();
    if (*protocol != "udp") {
        return attrs.error("protocol", "'" + *protocol + "' is not 'udp' (XEP-0176 is UDP only)");
    }
    auto type_name = attrs.text("type");
    if (!type_name) return type_name.error();
    const auto type = parse_ice_type(*type_name);
    if (!type) {
        return attrs.error("type", "unknown type '" + *type_name +
                                       "' (expected host, prflx, srflx or relay)");
    }

    c.host = *ip;
    c.port = *port;
    c.priority = *priority;
    c.ice.component = *component;
    c.ice.foundation = *foundation;
    c.ice.generation = *generation;
    c.ice.id = *id;
    c.ice.network = *network;
    c.ice.type = *type;

    const bool has_rel_addr = attrs.has("rel-addr");
    const bool has_rel_port = attrs.has("rel-port");
    if (has_rel_addr != has_rel_port) {
        return attrs.error(has_rel_addr ? "rel-port" : "rel-addr",
                           "missing (rel-addr and rel-port go together)");
    }
    if (has_rel_addr) {
        if (*type == IceType::Host) {
            return attrs.error("rel-addr", "not allowed on a host candidate (XEP-0176 §5.3)");
        }
        auto rel_addr = attrs.ip("rel-addr");
        if (!rel_addr) return rel_addr.error();
        // RFC 8839 §5.1 lets rport be 0 when the related address is hidden.
        auto rel_port = attrs.number("rel-port", 0, 65535);
        if (!rel_port) return rel_port.error();
        c.ice.related = TransportAddress{*IpAddress::parse(*rel_addr),
                                         static_cast<std::uint16_t>(*rel_port)};
    }
    return c;
}

} // namespace

std::string write(const Transport& transport) {
    std::vector<const Candidate*> list;
    list.reserve(transport.candidates.size());
    for (const Candidate& c : transport.candidates) {
        list.push_back(&c);
    }
    return write_transport(transport.ufrag, transport.pwd, list);
}

std::string write_trickle(std::string_view ufrag, std::string_view pwd, const Candidate& candidate) {
    return write_transport(ufrag, pwd, {&candidate});
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
    if (attrs->has("ufrag") || attrs->has("pwd")) {
        auto ufrag = attrs->ice_chars("ufrag", kUfragMin, kCredentialMax);
        if (!ufrag) return ufrag.error();
        auto pwd = attrs->ice_chars("pwd", kPwdMin, kCredentialMax);
        if (!pwd) return pwd.error();
        transport.ufrag = *ufrag;
        transport.pwd = *pwd;
    }
    std::size_t index = 0;
    for (const gloox::Tag* child : root.children()) {
        if (child->name() != "candidate" || !detail::in_parent_namespace(*child, kNamespace)) {
            continue; // other children (remote-candidate, extensions) are not ours to judge
        }
        if (transport.candidates.size() == kMaxCandidates) {
            return Error{"transport: more than " + std::to_string(kMaxCandidates) + " candidates"};
        }
        auto candidate = read_candidate(*child, index++);
        if (!candidate) {
            return candidate.error();
        }
        for (const Candidate& earlier : transport.candidates) {
            if (earlier.ice.id == candidate->ice.id) {
                return Error{"candidate[" + std::to_string(index - 1) + "]: attribute 'id': '" +
                             candidate->ice.id + "' is not unique in the transport"};
            }
        }
        transport.candidates.push_back(std::move(*candidate));
    }
    return transport;
}

} // namespace jgather::xep0176
