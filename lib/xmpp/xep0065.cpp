#include <jgather/xep0065.hpp>

#include "xml.hpp"

#include <gloox/tag.h>

namespace jgather::xep0065 {
namespace {

// XEP-0065 §5.3.1: the sid is at most 64 characters (it is hashed into DST.ADDR).
constexpr std::size_t kSidMax = 64;

Result<std::string> read_mode(const detail::Attributes& attrs) {
    if (!attrs.has("mode")) {
        return std::string("tcp"); // XEP-0065 §5.3.1 default
    }
    auto mode = attrs.text("mode");
    if (!mode) {
        return mode.error();
    }
    if (*mode != "tcp" && *mode != "udp") {
        return attrs.error("mode", "'" + *mode + "' is not 'tcp' or 'udp'");
    }
    return mode;
}

} // namespace

std::vector<Streamhost> streamhosts_from(const std::vector<Candidate>& candidates) {
    std::vector<Streamhost> out;
    for (const Candidate& c : candidates) {
        if (c.transport == jgather::Transport::Socks5) {
            out.push_back({c.s5b.jid, c.host, c.port});
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
        tag->addAttribute("jid", host.jid);
        tag->addAttribute("host", host.host);
        tag->addAttribute("port", std::to_string(host.port));
    }
    return root.xml();
}

Result<Query> read(std::string_view xml) {
    auto parsed = detail::parse_element(xml, "query", kNamespace);
    if (!parsed) {
        return parsed.error();
    }
    const gloox::Tag& root = **parsed;
    auto attrs = detail::Attributes::of(root, "query");
    if (!attrs) {
        return attrs.error();
    }
    Query query;
    auto sid = attrs->text("sid");
    if (!sid) return sid.error();
    if (sid->size() > kSidMax) {
        return attrs->error("sid", "longer than " + std::to_string(kSidMax) + " characters");
    }
    query.sid = *sid;
    auto mode = read_mode(*attrs);
    if (!mode) return mode.error();
    query.mode = *mode;

    std::size_t index = 0;
    for (const gloox::Tag* child : root.children()) {
        if (child->name() != "streamhost" || !detail::in_parent_namespace(*child, kNamespace)) {
            continue;
        }
        if (query.streamhosts.size() == kMaxStreamhosts) {
            return Error{"query: more than " + std::to_string(kMaxStreamhosts) + " streamhosts"};
        }
        auto host_attrs = detail::Attributes::of(*child, "streamhost[" + std::to_string(index++) + "]");
        if (!host_attrs) return host_attrs.error();
        Streamhost host;
        auto jid = host_attrs->text("jid");
        if (!jid) return jid.error();
        if (!detail::valid_jid(*jid)) {
            return host_attrs->error("jid", "'" + *jid + "' is not a valid JID");
        }
        auto name = host_attrs->text("host");
        if (!name) return name.error();
        if (!detail::valid_host(*name)) {
            return host_attrs->error("host", "'" + *name + "' is neither a literal IP nor a host name");
        }
        host.jid = *jid;
        // A literal is normalised; a host name is kept as written and never resolved here.
        auto literal = IpAddress::parse(*name);
        host.host = literal ? literal->to_string() : *name;
        if (host_attrs->has("port")) {
            auto port = host_attrs->port("port");
            if (!port) return port.error();
            host.port = *port;
        }
        query.streamhosts.push_back(std::move(host));
    }
    return query;
}

} // namespace jgather::xep0065
