#include <array>

#include <gloox/tag.h>

#include <jgather/xep0065.hpp>

#include "xml.hpp"

namespace jgather::xep0065 {
namespace {

// XEP-0065 §5.3.1: the sid is at most 64 characters (it is hashed into DST.ADDR).
constexpr std::size_t kSidMax = 64;

enum QueryAttribute : std::size_t { Sid, Mode };
constexpr std::array<std::string_view, 2> kQueryAttributes = {"sid", "mode"};
enum StreamhostAttribute : std::size_t { Jid, Host, Port };
constexpr std::array<std::string_view, 3> kStreamhostAttributes = {"jid", "host", "port"};

Result<Query> convert(const gloox::Tag& root, const ReadOptions& options) {
    auto attrs = detail::Attributes::of(root, kQueryAttributes, "query");
    if (!attrs) {
        return attrs.error();
    }
    Query query;
    auto sid = attrs->bounded_text(Sid, kSidMax);
    if (!sid) {
        return sid.error();
    }
    query.sid = *sid;
    auto mode = attrs->stream_mode(Mode);
    if (!mode) {
        return mode.error();
    }
    query.mode = *mode;

    std::size_t index = 0;
    for (const gloox::Tag* child : root.children()) {
        if (child->name() != "streamhost" || !detail::in_parent_namespace(*child, kNamespace)) {
            continue;
        }
        if (query.streamhosts.size() == kMaxStreamhosts) {
            return Error{"query: more than " + std::to_string(kMaxStreamhosts) + " streamhosts"};
        }
        auto host_attrs = detail::Attributes::of(*child, kStreamhostAttributes, "streamhost",
                                                 static_cast<long>(index++));
        if (!host_attrs) {
            return host_attrs.error();
        }
        Streamhost host;
        auto jid = host_attrs->text(Jid);
        if (!jid) {
            return jid.error();
        }
        if (!detail::valid_jid(*jid)) {
            return host_attrs->error(Jid, "'" + *jid + "' is not a valid JID");
        }
        auto name = host_attrs->text(Host);
        if (!name) {
            return name.error();
        }
        if (auto problem = detail::host_problem(*name)) {
            return host_attrs->error(Host, *problem);
        }
        host.jid = *jid;
        // A literal is normalised; a host name is kept as written and never resolved here.
        auto literal = IpAddress::parse(*name);
        if (literal) {
            if (auto problem = detail::peer_address_problem(*literal, options)) {
                return host_attrs->error(Host, *problem);
            }
        }
        host.host = literal ? literal->to_string() : *name;
        if (host_attrs->has(Port)) {
            auto port = host_attrs->port(Port);
            if (!port) {
                return port.error();
            }
            host.port = *port;
        }
        query.streamhosts.push_back(std::move(host));
    }
    return query;
}

} // namespace

std::vector<Streamhost> streamhosts_from(const std::vector<Candidate>& candidates) {
    std::vector<Streamhost> out;
    for (const Candidate& c : candidates) {
        if (c.transport() == jgather::TransportKind::Socks5) {
            out.push_back({c.s5b()->jid, c.host, c.port});
        }
    }
    return out;
}

std::string write(const Query& query) {
    gloox::Tag root("query");
    root.setXmlns(std::string(kNamespace));
    root.addAttribute("sid", query.sid);
    root.addAttribute("mode", query.mode);
    for (const Streamhost& host : query.streamhosts) {
        auto* tag = new gloox::Tag(&root, "streamhost");
        detail::AttributeWriter attrs;
        attrs.add("jid", host.jid);
        attrs.add("host", host.host);
        attrs.add("port", std::to_string(host.port));
        attrs.apply_to(*tag);
    }
    return root.xml();
}

Result<Query> read(std::string_view xml, const ReadOptions& options) {
    return detail::read_element<Query>(
        xml, "query", kNamespace,
        [&options](const gloox::Tag& root) { return convert(root, options); });
}

} // namespace jgather::xep0065
