// Writers and strict readers for XEP-0176, XEP-0065 and XEP-0260: round trips, and each class
// of malformed input rejected with a message naming the element and attribute.
#include <string>

#include <gtest/gtest.h>

#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>

using namespace jgather;

namespace {

Candidate ice(const char* ip, std::uint16_t port, IceType type, const char* id) {
    Candidate c;
    c.fields = IceFields{};
    c.host = ip;
    c.port = port;
    c.priority = 2130706431;
    c.ice()->component = 1;
    c.ice()->foundation = "1";
    c.ice()->id = id;
    c.ice()->network = 2;
    c.ice()->type = type;
    if (type != IceType::Host) {
        c.ice()->related = TransportAddress{*IpAddress::parse("192.0.2.10"), 5000};
    }
    return c;
}

Candidate s5b_candidate(const char* host, std::uint16_t port, S5bType type, const char* cid) {
    Candidate c;
    c.fields = S5bFields{};
    c.host = host;
    c.port = port;
    c.priority = 8257636;
    c.fields = S5bFields{cid, "romeo@montague.lit/orchard", type};
    return c;
}

const std::string kIceNs = "urn:xmpp:jingle:transports:ice-udp:1";

std::string
ice_doc(const std::string& candidate_attrs,
        const std::string& transport_attrs = "ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'") {
    return "<transport xmlns='" + kIceNs + "' " + transport_attrs + "><candidate " +
           candidate_attrs + "/></transport>";
}

const std::string kGoodIce =
    "component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1' network='1' "
    "port='8998' priority='2130706431' protocol='udp' type='host'";

std::string with(const std::string& attrs, const std::string& name, const std::string& value) {
    const auto at = attrs.find(name + "='");
    EXPECT_NE(at, std::string::npos) << name;
    const auto end = attrs.find('\'', at + name.size() + 2);
    return attrs.substr(0, at) + name + "='" + value + "'" + attrs.substr(end + 1);
}

std::string without(const std::string& attrs, const std::string& name) {
    const auto at = attrs.find(name + "='");
    const auto end = attrs.find('\'', at + name.size() + 2);
    return attrs.substr(0, at) + attrs.substr(end + 1);
}

void expect_ice_error(const std::string& xml, const std::string& fragment) {
    auto result = xep0176::read(xml);
    ASSERT_FALSE(result) << xml;
    EXPECT_NE(result.error().message.find(fragment), std::string::npos)
        << "message: " << result.error().message << "\nexpected: " << fragment;
}

} // namespace

TEST(Xep0176, RoundTrips) {
    xep0176::Transport t{"8hhy",
                         "asd88fgpdd777uzjYhagZg",
                         {ice("192.0.2.10", 5000, IceType::Host, "a1"),
                          ice("2001:db8::7", 5001, IceType::Host, "a2"),
                          ice("203.0.113.4", 40000, IceType::Srflx, "a3"),
                          ice("198.51.100.9", 3478, IceType::Relay, "a4")}};
    const std::string xml = xep0176::write(t);
    auto back = xep0176::read(xml);
    ASSERT_TRUE(back) << back.error().message << "\n" << xml;
    EXPECT_EQ(back->ufrag, t.ufrag);
    EXPECT_EQ(back->pwd, t.pwd);
    ASSERT_EQ(back->candidates.size(), t.candidates.size());
    for (std::size_t i = 0; i < t.candidates.size(); ++i) {
        EXPECT_TRUE(back->candidates[i].same_wire_fields(t.candidates[i])) << i;
    }
    // rel-addr only on the two non-host candidates (XEP-0176 §5.3).
    std::size_t rel_addrs = 0;
    for (auto at = xml.find("rel-addr="); at != std::string::npos;
         at = xml.find("rel-addr=", at + 1)) {
        ++rel_addrs;
    }
    EXPECT_EQ(rel_addrs, 2U);
}

TEST(Xep0176, TrickleFormCarriesCredentialsAndOneCandidate) {
    const std::string xml = xep0176::write_trickle("8hhy", "asd88fgpdd777uzjYhagZg",
                                                   ice("192.0.2.10", 5000, IceType::Host, "x"));
    auto back = xep0176::read(xml);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->candidates.size(), 1U);
    EXPECT_EQ(back->ufrag, "8hhy");
}

TEST(Xep0176, ReadsTheXepExampleAndNormalisesIps) {
    auto t = xep0176::read(ice_doc(with(kGoodIce, "ip", "2001:DB8:0::1")));
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->candidates[0].host, "2001:db8::1");
    // Unknown children and attributes are not ours to judge.
    auto extended = xep0176::read("<transport xmlns='" + kIceNs + "'><rtcp-mux/><candidate " +
                                  kGoodIce + " x-extension='1'/></transport>");
    ASSERT_TRUE(extended) << extended.error().message;
    EXPECT_EQ(extended->candidates.size(), 1U);
}

TEST(Xep0176, RejectsMalformedXml) {
    expect_ice_error("<transport xmlns='" + kIceNs + "'><candidate", "no complete element");
    expect_ice_error("<transport xmlns='" + kIceNs + "'><a></b></transport>", "malformed XML");
    expect_ice_error("<transport xmlns='" + kIceNs + "'/><transport xmlns='" + kIceNs + "'/>",
                     "more than one top-level element");
    expect_ice_error("<description xmlns='" + kIceNs + "'/>", "expected element <transport>");
    expect_ice_error("<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>",
                     "attribute 'xmlns'");
    expect_ice_error(std::string(70000, ' '), "more than");
}

TEST(Xep0176, RejectsMissingAndDuplicateAttributes) {
    for (const char* name : {"component", "foundation", "generation", "id", "ip", "network", "port",
                             "priority", "protocol", "type"}) {
        expect_ice_error(ice_doc(without(kGoodIce, name)),
                         std::string("candidate[0]: attribute '") + name + "': missing");
    }
    expect_ice_error(ice_doc(kGoodIce + " port='9000'"),
                     "candidate[0]: attribute 'port' appears twice");
    expect_ice_error(ice_doc(kGoodIce, "ufrag='8hhy' ufrag='9hhy' pwd='asd88fgpdd777uzjYhagZg'"),
                     "transport: attribute 'ufrag' appears twice");
    expect_ice_error(ice_doc(kGoodIce, "ufrag='8hhy'"), "transport: attribute 'pwd': missing");
    expect_ice_error(ice_doc(with(kGoodIce, "id", "")), "attribute 'id': empty");
}

TEST(Xep0176, RejectsBadNumbersAndRanges) {
    expect_ice_error(ice_doc(with(kGoodIce, "port", "0")),
                     "attribute 'port': 0 is out of range 1-65535");
    expect_ice_error(ice_doc(with(kGoodIce, "port", "65536")),
                     "attribute 'port': 65536 is out of range");
    expect_ice_error(ice_doc(with(kGoodIce, "port", "99999999999999999999")), "attribute 'port'");
    expect_ice_error(ice_doc(with(kGoodIce, "port", "80a")),
                     "'80a' is not an unsigned decimal number");
    expect_ice_error(ice_doc(with(kGoodIce, "port", "-1")), "'-1' is not an unsigned decimal");
    expect_ice_error(ice_doc(with(kGoodIce, "port", "+80")), "'+80' is not an unsigned decimal");
    expect_ice_error(ice_doc(with(kGoodIce, "port", " 80")), "is not an unsigned decimal");
    expect_ice_error(ice_doc(with(kGoodIce, "component", "0")),
                     "attribute 'component': 0 is out of range 1-256");
    expect_ice_error(ice_doc(with(kGoodIce, "component", "257")), "attribute 'component'");
    expect_ice_error(ice_doc(with(kGoodIce, "priority", "0")),
                     "attribute 'priority': 0 is out of range");
    expect_ice_error(ice_doc(with(kGoodIce, "priority", "2147483648")), "attribute 'priority'");
    expect_ice_error(ice_doc(with(kGoodIce, "generation", "256")), "attribute 'generation'");
    expect_ice_error(ice_doc(with(kGoodIce, "network", "65536")), "attribute 'network'");
}

TEST(Xep0176, RejectsUnknownTypesProtocolsAndNonLiteralIps) {
    expect_ice_error(ice_doc(with(kGoodIce, "type", "stun")),
                     "attribute 'type': unknown type 'stun'");
    expect_ice_error(ice_doc(with(kGoodIce, "protocol", "tcp")),
                     "attribute 'protocol': 'tcp' is not 'udp'");
    expect_ice_error(ice_doc(with(kGoodIce, "ip", "host.example.org")),
                     "attribute 'ip': 'host.example.org' is not a literal IPv4 or IPv6 address");
    expect_ice_error(ice_doc(with(kGoodIce, "ip", "fe80::1%eth0")), "attribute 'ip'");
    expect_ice_error(ice_doc(with(kGoodIce, "ip", "1234.local")), "attribute 'ip'");
    expect_ice_error(ice_doc(with(kGoodIce, "foundation", "a b")), "attribute 'foundation'");
    expect_ice_error(ice_doc(with(kGoodIce, "foundation", std::string(33, 'a'))),
                     "attribute 'foundation': length 33");
    expect_ice_error(ice_doc(with(kGoodIce, "id", "a&amp;b")), "attribute 'id'");
    expect_ice_error(ice_doc(kGoodIce, "ufrag='abc' pwd='asd88fgpdd777uzjYhagZg'"),
                     "transport: attribute 'ufrag': length 3");
    expect_ice_error(ice_doc(kGoodIce, "ufrag='abcd' pwd='short'"),
                     "transport: attribute 'pwd': length 5");
    expect_ice_error(ice_doc(kGoodIce, "ufrag='ab-d' pwd='asd88fgpdd777uzjYhagZg'"), "ice-char");
}

TEST(Xep0176, RejectsBadRelatedAddresses) {
    expect_ice_error(ice_doc(kGoodIce + " rel-addr='192.0.2.1' rel-port='5000'"),
                     "attribute 'rel-addr': not allowed on a host candidate");
    const std::string srflx = with(kGoodIce, "type", "srflx");
    expect_ice_error(ice_doc(srflx + " rel-addr='192.0.2.1'"), "attribute 'rel-port': missing");
    expect_ice_error(ice_doc(srflx + " rel-port='5000'"), "attribute 'rel-addr': missing");
    expect_ice_error(ice_doc(srflx + " rel-addr='router' rel-port='5000'"), "attribute 'rel-addr'");
    expect_ice_error(ice_doc(srflx + " rel-addr='192.0.2.1' rel-port='70000'"),
                     "attribute 'rel-port'");
    EXPECT_TRUE(xep0176::read(ice_doc(srflx + " rel-addr='192.0.2.1' rel-port='5000'")));
}

TEST(Xep0176, RejectsTooManyAndDuplicateCandidates) {
    std::string many = "<transport xmlns='" + kIceNs + "'>";
    for (std::size_t i = 0; i <= xep0176::kMaxCandidates; ++i) {
        many += "<candidate " + with(kGoodIce, "id", "c" + std::to_string(i)) + "/>";
    }
    expect_ice_error(many + "</transport>", "more than 64 candidates");
    expect_ice_error("<transport xmlns='" + kIceNs + "'><candidate " + kGoodIce + "/><candidate " +
                         kGoodIce + "/></transport>",
                     "candidate[1]: attribute 'id': 'el0747fg11' is not unique");
}

TEST(Xep0065, RoundTripsAndKeepsHostNames) {
    xep0065::Query q{"vxf9n471bn46",
                     "tcp",
                     {{"romeo@montague.lit/orchard", "192.0.2.1", 5086},
                      {"romeo@montague.lit/orchard", "2001:db8::1", 5086},
                      {"proxy.montague.lit", "proxy.montague.lit", 7777}}};
    auto back = xep0065::read(xep0065::write(q));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->sid, q.sid);
    EXPECT_EQ(back->mode, "tcp");
    EXPECT_EQ(back->streamhosts, q.streamhosts);
}

TEST(Xep0065, StreamhostsFromGatheredCandidates) {
    auto hosts = xep0065::streamhosts_from({s5b_candidate("192.0.2.1", 5000, S5bType::Direct, "a"),
                                            ice("192.0.2.1", 6000, IceType::Host, "b")});
    ASSERT_EQ(hosts.size(), 1U);
    EXPECT_EQ(hosts[0].jid, "romeo@montague.lit/orchard");
    EXPECT_EQ(hosts[0].port, 5000);
}

TEST(Xep0065, RejectsBadInput) {
    const std::string ns = "xmlns='http://jabber.org/protocol/bytestreams'";
    auto error = [&](const std::string& xml) {
        auto r = xep0065::read(xml);
        EXPECT_FALSE(r) << xml;
        return r ? std::string() : r.error().message;
    };
    EXPECT_EQ(error("<query " + ns + "/>"), "query: attribute 'sid': missing");
    EXPECT_EQ(error("<query " + ns + " sid='s' mode='sctp'/>"),
              "query: attribute 'mode': 'sctp' is not 'tcp' or 'udp'");
    EXPECT_NE(
        error("<query " + ns + " sid='" + std::string(65, 's') + "'/>").find("longer than 64"),
        std::string::npos);
    EXPECT_EQ(error("<query " + ns + " sid='s'><streamhost host='192.0.2.1' port='1'/></query>"),
              "streamhost[0]: attribute 'jid': missing");
    EXPECT_EQ(error("<query " + ns + " sid='s'><streamhost jid='a@b/c' port='1'/></query>"),
              "streamhost[0]: attribute 'host': missing");
    EXPECT_EQ(error("<query " + ns +
                    " sid='s'><streamhost jid='a@b/c' host='192.0.2.1' port='0'/></query>"),
              "streamhost[0]: attribute 'port': 0 is out of range 1-65535");
    EXPECT_EQ(
        error("<query " + ns +
              " sid='s'><streamhost jid='a@b/c' host='bad host' port='1'/></query>"),
        "streamhost[0]: attribute 'host': 'bad host' is neither a literal IP nor a host name");
    EXPECT_EQ(error("<query " + ns + " sid='s'><streamhost jid='@' host='h' port='1'/></query>"),
              "streamhost[0]: attribute 'jid': '@' is not a valid JID");
    EXPECT_EQ(
        error("<query " + ns + " sid='s'><streamhost jid='a@b/c' jid='d@e/f' host='h'/></query>"),
        "streamhost[0]: attribute 'jid' appears twice");
    std::string many = "<query " + ns + " sid='s'>";
    for (std::size_t i = 0; i <= xep0065::kMaxStreamhosts; ++i) {
        many += "<streamhost jid='a@b/c' host='192.0.2.1' port='1'/>";
    }
    EXPECT_EQ(error(many + "</query>"), "query: more than 64 streamhosts");
    // Port defaults to 1080 (XEP-0065 §5.3.1).
    auto defaulted = xep0065::read("<query " + ns +
                                   " sid='s'><streamhost jid='a@b/c' host='h.example'/></query>");
    ASSERT_TRUE(defaulted);
    EXPECT_EQ(defaulted->streamhosts[0].port, 1080);
    EXPECT_EQ(defaulted->streamhosts[0].host, "h.example");
}

TEST(Xep0260, DstaddrIsSha1OfSidAndJids) {
    // Known SHA-1 of "vxf9n471bn46romeo@montague.lit/orchardjuliet@capulet.lit/balcony",
    // the XEP-0260 example session (computed with sha1sum).
    EXPECT_EQ(xep0260::dstaddr("vxf9n471bn46", "romeo@montague.lit/orchard",
                               "juliet@capulet.lit/balcony"),
              "01494a7e04f11decb0c82b29d36d172e55ebe7a9");
}

TEST(Xep0260, RoundTrips) {
    xep0260::Transport t{
        "vj3hs98y",
        xep0260::dstaddr("vj3hs98y", "romeo@montague.lit/orchard", "juliet@capulet.lit/balcony"),
        "tcp",
        {s5b_candidate("192.0.2.1", 5086, S5bType::Direct, "hft54dqy"),
         s5b_candidate("2001:db8::1", 5086, S5bType::Direct, "hutr46fe"),
         s5b_candidate("203.0.113.5", 5086, S5bType::Assisted, "ht567dq"),
         s5b_candidate("proxy.example.org", 7777, S5bType::Proxy, "hr65dqyd")}};
    auto back = xep0260::read(xep0260::write(t));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->sid, t.sid);
    EXPECT_EQ(back->dstaddr, t.dstaddr);
    ASSERT_EQ(back->candidates.size(), 4U);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(back->candidates[i].same_wire_fields(t.candidates[i])) << i;
    }
}

TEST(Xep0260, TransportInfoPayloadsRoundTrip) {
    // XEP-0260 §2.4 and §2.5, one per transport-info.
    for (const auto& [field, xml] :
         std::vector<std::pair<std::string, std::string>>{{"used", "<candidate-used cid='hr65'/>"},
                                                          {"error", "<candidate-error/>"},
                                                          {"activated", "<activated cid='hr65'/>"},
                                                          {"proxy-error", "<proxy-error/>"}}) {
        xep0260::Transport t{"s1", "", "tcp", {}};
        t.candidate_used = field == "used" ? "hr65" : "";
        t.candidate_error = field == "error";
        t.activated = field == "activated" ? "hr65" : "";
        t.proxy_error = field == "proxy-error";
        const std::string written = xep0260::write(t);
        EXPECT_NE(written.find(xml), std::string::npos) << written;
        auto back = xep0260::read(written);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(back->candidate_used, t.candidate_used) << field;
        EXPECT_EQ(back->candidate_error, t.candidate_error) << field;
        EXPECT_EQ(back->activated, t.activated) << field;
        EXPECT_EQ(back->proxy_error, t.proxy_error) << field;
    }
    const std::string head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    auto error = [&](const std::string& body) {
        auto r = xep0260::read(head + body + "</transport>");
        return r ? std::string("(accepted)") : r.error().message;
    };
    EXPECT_EQ(error("<candidate-used/>"), "candidate-used: attribute 'cid': missing");
    EXPECT_EQ(error("<activated/>"), "activated: attribute 'cid': missing");
    EXPECT_EQ(error("<candidate-used cid='a'/><candidate-error/>"),
              "transport: more than one of candidate-used, candidate-error, activated and "
              "proxy-error");
    EXPECT_EQ(error("<candidate-used xmlns='urn:other' cid=''/>"), "(accepted)");
}

TEST(Xep0260, RejectsBadInput) {
    const std::string head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    const std::string good = "cid='c1' host='192.0.2.1' jid='romeo@montague.lit/orchard' "
                             "port='5086' priority='8257636' type='direct'";
    auto error = [&](const std::string& attrs) {
        auto r = xep0260::read(head + "<candidate " + attrs + "/></transport>");
        return r ? std::string("(accepted)") : r.error().message;
    };
    EXPECT_EQ(error(good), "(accepted)");
    EXPECT_EQ(error(without(good, "cid")), "candidate[0]: attribute 'cid': missing");
    EXPECT_EQ(error(without(good, "host")), "candidate[0]: attribute 'host': missing");
    EXPECT_EQ(error(without(good, "jid")), "candidate[0]: attribute 'jid': missing");
    EXPECT_EQ(error(without(good, "priority")), "candidate[0]: attribute 'priority': missing");
    EXPECT_EQ(error(with(good, "type", "relay")),
              "candidate[0]: attribute 'type': unknown type 'relay' (expected direct, assisted, "
              "tunnel or proxy)");
    EXPECT_EQ(error(with(good, "port", "65536")),
              "candidate[0]: attribute 'port': 65536 is out of range 1-65535");
    EXPECT_EQ(error(with(good, "priority", "x")),
              "candidate[0]: attribute 'priority': 'x' is not an unsigned decimal number");
    EXPECT_EQ(error(with(good, "host", "-bad-")),
              "candidate[0]: attribute 'host': '-bad-' is neither a literal IP nor a host name");
    EXPECT_EQ(error(good + " cid='c2'"), "candidate[0]: attribute 'cid' appears twice");
    auto no_sid = xep0260::read("<transport xmlns='urn:xmpp:jingle:transports:s5b:1'/>");
    ASSERT_FALSE(no_sid);
    EXPECT_EQ(no_sid.error().message, "transport: attribute 'sid': missing");
    auto bad_dst = xep0260::read(
        "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s' dstaddr='xyz'/>");
    ASSERT_FALSE(bad_dst);
    EXPECT_EQ(bad_dst.error().message,
              "transport: attribute 'dstaddr': 'xyz' is not a 40-digit SHA-1 hex string");
    auto dup =
        xep0260::read(head + "<candidate " + good + "/><candidate " + good + "/></transport>");
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().message,
              "candidate[1]: attribute 'cid': 'c1' is not unique in the transport");
}

TEST(ConfiguredExternal, ParsesAddressForms) {
    EXPECT_TRUE(ConfiguredExternalSource::parse("203.0.113.5"));
    EXPECT_TRUE(ConfiguredExternalSource::parse("203.0.113.5:6000"));
    EXPECT_TRUE(ConfiguredExternalSource::parse("2001:db8::5"));
    EXPECT_TRUE(ConfiguredExternalSource::parse("[2001:db8::5]:6000"));
    auto bad_port = ConfiguredExternalSource::parse("203.0.113.5:0");
    ASSERT_FALSE(bad_port);
    EXPECT_NE(bad_port.error().message.find("port '0'"), std::string::npos);
    EXPECT_FALSE(ConfiguredExternalSource::parse("example.org"));
    EXPECT_TRUE(ConfiguredExternalSource::parse("[2001:db8::5]")) << "no port: none forwarded";
    EXPECT_FALSE(ConfiguredExternalSource::parse("[192.0.2.1]:6000")) << "brackets are for IPv6";
    EXPECT_FALSE(ConfiguredExternalSource::parse("192.0.2.1:06000")) << "a leading zero";
    EXPECT_FALSE(ConfiguredExternalSource::parse("0.0.0.0")) << "cannot be external";
    EXPECT_FALSE(ConfiguredExternalSource::parse("224.0.0.1")) << "cannot be external";
}

// Issue 8's reader classes: what a peer must not send, each refused with the attribute named.
TEST(Readers, RefuseAddressesWhereNoPeerCanBe) {
    for (const char* ip :
         {"0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "ff02::1", "240.0.0.1", "0.1.2.3"}) {
        SCOPED_TRACE(ip);
        expect_ice_error(ice_doc(with(kGoodIce, "ip", ip)), "candidate[0]: attribute 'ip': ");
        expect_ice_error(ice_doc(with(kGoodIce, "ip", ip)), "where no peer can be");
    }
    const std::string s5b_head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    auto s5b_host = [&](const std::string& host, const ReadOptions& options = {}) {
        auto r = xep0260::read(s5b_head + "<candidate cid='c1' host='" + host +
                                   "' jid='romeo@montague.lit/orchard' port='5086' "
                                   "priority='8257636'/></transport>",
                               options);
        return r ? std::string("(accepted)") : r.error().message;
    };
    EXPECT_EQ(s5b_host("224.0.0.1"), "candidate[0]: attribute 'host': 224.0.0.1 is a multicast "
                                     "address, where no peer can be");
    const std::string q = "<query xmlns='http://jabber.org/protocol/bytestreams' sid='s'>";
    auto r = xep0065::read(q + "<streamhost jid='a@b/c' host='0.0.0.0' port='1'/></query>");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "streamhost[0]: attribute 'host': 0.0.0.0 is the unspecified "
                                 "address, where no peer can be");

    // Loopback: refused unless asked for; link-local: accepted unless refused.
    expect_ice_error(ice_doc(with(kGoodIce, "ip", "127.0.0.1")),
                     "127.0.0.1 is a loopback address (ReadOptions::accept_loopback)");
    EXPECT_TRUE(xep0176::read(ice_doc(with(kGoodIce, "ip", "::1")), {.accept_loopback = true}));
    EXPECT_TRUE(xep0176::read(ice_doc(with(kGoodIce, "ip", "fe80::1"))));
    auto no_link_local =
        xep0176::read(ice_doc(with(kGoodIce, "ip", "169.254.1.2")), {.accept_link_local = false});
    ASSERT_FALSE(no_link_local);
    EXPECT_EQ(no_link_local.error().message,
              "candidate[0]: attribute 'ip': 169.254.1.2 is a link-local address "
              "(ReadOptions::accept_link_local)");
    EXPECT_EQ(s5b_host("127.0.0.1"), "candidate[0]: attribute 'host': 127.0.0.1 is a loopback "
                                     "address (ReadOptions::accept_loopback)");
    EXPECT_EQ(s5b_host("127.0.0.1", {.accept_loopback = true}), "(accepted)");
}

TEST(Readers, RefuseHostNamesTheCLibraryReadsAsOtherAddresses) {
    const std::string head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    auto host = [&](const std::string& name) {
        auto r = xep0260::read(head + "<candidate cid='c1' host='" + name +
                               "' jid='romeo@montague.lit/orchard' port='5086' "
                               "priority='8257636'/></transport>");
        return r ? std::string("(accepted)") : r.error().message;
    };
    // inet_aton's forms: a 32-bit number, hex, octal parts, fewer than four parts.
    EXPECT_EQ(host("2130706433"), "candidate[0]: attribute 'host': '2130706433' is not a literal "
                                  "IP, yet the C library reads it as 127.0.0.1 (RFC 1123 §2.1: a "
                                  "host name is never numeric)");
    EXPECT_NE(host("0x7f000001").find("reads it as 127.0.0.1"), std::string::npos);
    EXPECT_NE(host("010.1.1.1").find("reads it as 8.1.1.1"), std::string::npos);
    EXPECT_NE(host("1.2.3").find("reads it as 1.2.0.3"), std::string::npos);
    // RFC 1123 §2.1: the top-level label is alphabetic.
    EXPECT_NE(host("proxy.999").find("ends in the numeric label '999'"), std::string::npos);
    EXPECT_EQ(host("proxy.example.org"), "(accepted)");
    EXPECT_EQ(host("1and1.example"), "(accepted)") << "digits are fine in inner labels";
    auto r = xep0065::read("<query xmlns='http://jabber.org/protocol/bytestreams' sid='s'>"
                           "<streamhost jid='a@b/c' host='0x7f000001'/></query>");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("streamhost[0]: attribute 'host'"), std::string::npos);
}

TEST(Readers, AnUnreadableAttributeIsAnErrorNotItsDefault) {
    // gloox's parser drops an attribute with a control character or invalid UTF-8 without a
    // word: a port would become 1080 and a type "direct". The readers refuse the document.
    const std::string head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    const std::string tail = "/></transport>";
    const std::string base =
        "<candidate cid='c1' host='192.0.2.1' jid='romeo@montague.lit/orchard' priority='8257636' ";
    auto r = xep0260::read(head + base +
                           "port='50\x01"
                           "0'" +
                           tail);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("attribute 'port': character U+0001 (not allowed in XML 1.0 "
                                     "§2.2)"),
              std::string::npos)
        << r.error().message;
    r = xep0260::read(head + base + "type='prox\xff'" + tail);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("attribute 'type': invalid UTF-8"), std::string::npos)
        << r.error().message;
    r = xep0260::read(head + base + "type='prox\xc0\xb9'" + tail); // an overlong '9'
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("invalid UTF-8"), std::string::npos);
    auto q = xep0065::read("<query xmlns='http://jabber.org/protocol/bytestreams' sid='s'>"
                           "<streamhost jid='a@b/c' host='h.example' port='7\x02'/></query>");
    ASSERT_FALSE(q);
    EXPECT_NE(q.error().message.find("attribute 'port': character U+0002"), std::string::npos)
        << q.error().message;
    // Valid UTF-8 beyond ASCII is fine where the attribute allows it (a JID's resource).
    EXPECT_TRUE(xep0260::read(head +
                              "<candidate cid='c1' host='192.0.2.1' jid='romeo@montague.lit/"
                              "\xc3\xa9t\xc3\xa9' port='5086' priority='8257636'" +
                              tail));
}

TEST(Readers, RefuseLeadingZerosInNumbersAndXep0260PrioritiesAbove2To31) {
    expect_ice_error(ice_doc(with(kGoodIce, "port", "08998")),
                     "candidate[0]: attribute 'port': '08998' has a leading zero");
    expect_ice_error(ice_doc(with(kGoodIce, "priority", "02130706431")),
                     "attribute 'priority': '02130706431' has a leading zero");
    EXPECT_TRUE(xep0176::read(ice_doc(with(kGoodIce, "generation", "0")))) << "0 itself is fine";
    const std::string head = "<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='s'>";
    auto priority = [&](const std::string& value) {
        auto r = xep0260::read(head +
                               "<candidate cid='c1' host='192.0.2.1' "
                               "jid='romeo@montague.lit/orchard' port='5086' priority='" +
                               value + "'/></transport>");
        return r ? std::string("(accepted)") : r.error().message;
    };
    EXPECT_EQ(priority("2147483647"), "(accepted)");
    EXPECT_EQ(priority("2147483648"),
              "candidate[0]: attribute 'priority': 2147483648 is out of range 1-2147483647");
    EXPECT_EQ(priority("0100"), "candidate[0]: attribute 'priority': '0100' has a leading zero");
}

TEST(GlooxStreamhosts, SocksCandidatesInPriorityOrderIceSkipped) {
    Candidate direct = s5b_candidate("192.0.2.1", 5086, S5bType::Direct, "d");
    direct.priority = (126u << 16) + 65535;
    direct.s5b()->jid = "romeo@example.org/orchard";
    Candidate proxy = s5b_candidate("203.0.113.9", 7777, S5bType::Proxy, "p");
    proxy.priority = (10u << 16) + 65535;
    proxy.s5b()->jid = "proxy.example.org";
    Candidate assisted = s5b_candidate("198.51.100.4", 5086, S5bType::Assisted, "a");
    assisted.priority = (120u << 16) + 65535;
    assisted.s5b()->jid = "romeo@example.org/orchard";
    const auto hosts =
        xmpp::streamhosts({proxy, ice("192.0.2.1", 6000, IceType::Host, "i"), assisted, direct});
    ASSERT_EQ(hosts.size(), 3u);
    auto it = hosts.begin();
    EXPECT_EQ(it->host, "192.0.2.1");
    EXPECT_EQ(it->port, 5086);
    EXPECT_EQ(it->jid.full(), "romeo@example.org/orchard");
    ++it;
    EXPECT_EQ(it->host, "198.51.100.4");
    ++it;
    EXPECT_EQ(it->host, "203.0.113.9");
    EXPECT_EQ(it->port, 7777);
    EXPECT_EQ(it->jid.full(), "proxy.example.org");
}
