#include <algorithm>
#include <array>

#include <gloox/tag.h>

#include <jgather/xep0176.hpp>

#include "xep0176_tag.hpp"
#include "xml.hpp"

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

// Attribute tables for the reader (slot order = the order writers emit them).
enum TransportAttribute : std::size_t { Ufrag, Pwd };
constexpr std::array<std::string_view, 2> kTransportAttributes = {"ufrag", "pwd"};
enum CandidateAttribute : std::size_t {
    Component,
    Foundation,
    Generation,
    Id,
    Ip,
    Network,
    Port,
    Priority,
    Protocol,
    Type,
    RelAddr,
    RelPort
};
constexpr std::array<std::string_view, 12> kCandidateAttributes = {
    "component", "foundation", "generation", "id",   "ip",       "network",
    "port",      "priority",   "protocol",   "type", "rel-addr", "rel-port"};

gloox::Tag* candidate_tag(gloox::Tag* parent, const Candidate& c) {
    auto* tag = new gloox::Tag(parent, "candidate");
    detail::AttributeWriter attrs;
    attrs.add("component", std::to_string(c.ice()->component));
    attrs.add("foundation", c.ice()->foundation);
    attrs.add("generation", std::to_string(c.ice()->generation));
    attrs.add("id", c.ice()->id);
    attrs.add("ip", c.host);
    attrs.add("network", std::to_string(c.ice()->network));
    attrs.add("port", std::to_string(c.port));
    attrs.add("priority", std::to_string(c.priority));
    attrs.add("protocol", "udp");
    attrs.add("type", std::string(to_string(c.ice()->type)));
    // XEP-0176 §5.3: rel-addr/rel-port only for non-host candidates.
    if (c.ice()->type != IceType::Host && c.ice()->related) {
        attrs.add("rel-addr", c.ice()->related->ip.to_string());
        attrs.add("rel-port", std::to_string(c.ice()->related->port));
    }
    attrs.apply_to(*tag);
    return tag;
}

std::string write_transport(std::string_view ufrag, std::string_view pwd,
                            const std::vector<const Candidate*>& candidates,
                            bool end_of_candidates = false) {
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
    if (end_of_candidates) {
        new gloox::Tag(&transport, "end-of-candidates"); // owned by its parent
    }
    return transport.xml();
}

// Fills @p c in place (no temporaries: this is the reader's hot path).
Result<void> read_candidate(const gloox::Tag& tag, std::size_t index, Candidate& c,
                            const ReadOptions& options) {
    auto attrs_result =
        detail::Attributes::of(tag, kCandidateAttributes, "candidate", static_cast<long>(index));
    if (!attrs_result) {
        return attrs_result.error();
    }
    const detail::Attributes& attrs = *attrs_result;
    c.fields = jgather::IceFields{};

    auto component = attrs.number(Component, 1, kComponentMax);
    if (!component) {
        return component.error();
    }
    auto foundation = attrs.ice_chars(Foundation, 1, kFoundationMax);
    if (!foundation) {
        return foundation.error();
    }
    auto generation = attrs.number(Generation, 0, kGenerationMax);
    if (!generation) {
        return generation.error();
    }
    auto id = attrs.token(Id, kIdMax);
    if (!id) {
        return id.error();
    }
    auto ip = attrs.peer_ip(Ip, options);
    if (!ip) {
        return ip.error();
    }
    auto network = attrs.number(Network, 0, kNetworkMax);
    if (!network) {
        return network.error();
    }
    auto port = attrs.port(Port);
    if (!port) {
        return port.error();
    }
    auto priority = attrs.number(Priority, 1, kPriorityMax);
    if (!priority) {
        return priority.error();
    }
    auto protocol = attrs.text(Protocol);
    if (!protocol) {
        return protocol.error();
    }
    if (*protocol != "udp") {
        return attrs.error(Protocol, "'" + *protocol + "' is not 'udp' (XEP-0176 is UDP only)");
    }
    auto type_name = attrs.text(Type);
    if (!type_name) {
        return type_name.error();
    }
    const auto type = parse_ice_type(*type_name);
    if (!type) {
        return attrs.error(Type, "unknown type '" + *type_name +
                                     "' (expected host, prflx, srflx or relay)");
    }

    c.host = std::move(*ip);
    c.port = *port;
    c.priority = *priority;
    c.ice()->component = *component;
    c.ice()->foundation = std::move(*foundation);
    c.ice()->generation = *generation;
    c.ice()->id = std::move(*id);
    c.ice()->network = *network;
    c.ice()->type = *type;

    const bool has_rel_addr = attrs.has(RelAddr);
    const bool has_rel_port = attrs.has(RelPort);
    if (has_rel_addr != has_rel_port) {
        return attrs.error(has_rel_addr ? RelPort : RelAddr,
                           "missing (rel-addr and rel-port go together)");
    }
    if (has_rel_addr) {
        if (*type == IceType::Host) {
            return attrs.error(RelAddr, "not allowed on a host candidate (XEP-0176 §5.3)");
        }
        auto rel_addr = attrs.address(RelAddr);
        if (!rel_addr) {
            return rel_addr.error();
        }
        // RFC 8839 §5.1 lets rport be 0 when the related address is hidden.
        auto rel_port = attrs.number(RelPort, 0, 65535);
        if (!rel_port) {
            return rel_port.error();
        }
        c.ice()->related = TransportAddress{*rel_addr, static_cast<std::uint16_t>(*rel_port)};
    }
    return {};
}

Result<Transport> convert(const gloox::Tag& root, const ReadOptions& options) {
    auto attrs = detail::Attributes::of(root, kTransportAttributes, "transport");
    if (!attrs) {
        return attrs.error();
    }
    Transport transport;
    if (attrs->has(Ufrag) || attrs->has(Pwd)) {
        auto ufrag = attrs->ice_chars(Ufrag, kUfragMin, kCredentialMax);
        if (!ufrag) {
            return ufrag.error();
        }
        auto pwd = attrs->ice_chars(Pwd, kPwdMin, kCredentialMax);
        if (!pwd) {
            return pwd.error();
        }
        transport.ufrag = *ufrag;
        transport.pwd = *pwd;
    }
    transport.candidates.reserve(std::min(root.children().size(), kMaxCandidates));
    std::size_t index = 0;
    for (const gloox::Tag* child : root.children()) {
        if (!detail::in_parent_namespace(*child, kNamespace)) {
            continue; // extensions in other namespaces are not ours to judge
        }
        if (child->name() == "end-of-candidates") {
            if (!child->attributes().empty() &&
                !(child->attributes().size() == 1 && child->hasAttribute("xmlns"))) {
                return Error{"end-of-candidates: no attribute is allowed (XEP-0371 §5)"};
            }
            transport.end_of_candidates = true;
            continue;
        }
        if (child->name() != "candidate") {
            continue; // remote-candidate and the like are not ours to judge
        }
        if (transport.candidates.size() == kMaxCandidates) {
            return Error{"transport: more than " + std::to_string(kMaxCandidates) + " candidates"};
        }
        Candidate& candidate = transport.candidates.emplace_back();
        if (auto read = read_candidate(*child, index++, candidate, options); !read) {
            return read.error();
        }
        for (std::size_t i = 0; i + 1 < transport.candidates.size(); ++i) {
            if (transport.candidates[i].ice()->id == candidate.ice()->id) {
                return Error{"candidate[" + std::to_string(index - 1) + "]: attribute 'id': '" +
                             candidate.ice()->id + "' is not unique in the transport"};
            }
        }
    }
    return transport;
}

} // namespace

std::string write(const Transport& transport) {
    std::vector<const Candidate*> list;
    list.reserve(transport.candidates.size());
    for (const Candidate& c : transport.candidates) {
        list.push_back(&c);
    }
    return write_transport(transport.ufrag, transport.pwd, list, transport.end_of_candidates);
}

std::string write_end_of_candidates(std::string_view ufrag, std::string_view pwd) {
    return write_transport(ufrag, pwd, {}, true);
}

std::string write_trickle(std::string_view ufrag, std::string_view pwd,
                          const Candidate& candidate) {
    return write_transport(ufrag, pwd, {&candidate});
}

Result<Transport> read_tag(const gloox::Tag& tag, const ReadOptions& options) {
    if (tag.name() != "transport") {
        return Error{"<transport>: expected element <transport>, got <" + tag.name() + ">"};
    }
    if (tag.xmlns() != kNamespace) {
        return Error{"<transport>: attribute 'xmlns': expected '" + std::string(kNamespace) +
                     "', got '" + tag.xmlns() + "'"};
    }
    // Same checks as on text: gloox keeps what its parser let through.
    if (auto problem = detail::character_problem(tag.xml())) {
        return Error{"<transport>: " + *problem};
    }
    return convert(tag, options);
}

Result<Transport> read(std::string_view xml, const ReadOptions& options) {
    return detail::read_element<Transport>(
        xml, "transport", kNamespace,
        [&options](const gloox::Tag& root) { return convert(root, options); });
}

} // namespace jgather::xep0176
