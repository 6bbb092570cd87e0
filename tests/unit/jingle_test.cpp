// The gloox Jingle binding: jgather's XEP-0176 writer and strict reader inside gloox plugins,
// and the end-of-candidates indication.
#include <memory>

#include <gloox/jinglecontent.h>
#include <gtest/gtest.h>

#include <jgather/jingle.hpp>
#include <jgather/xep0176.hpp>

#include "xmpp/xml.hpp"

using namespace jgather;

namespace {

Candidate host(const char* ip, std::uint16_t port, const char* id) {
    Candidate c;
    c.host = ip;
    c.port = port;
    c.priority = 2130706431;
    c.ice()->foundation = "1";
    c.ice()->id = id;
    return c;
}

// Parses @p xml into a Tag the test owns (as gloox's parser would hand it to a plugin).
std::unique_ptr<gloox::Tag> parse(const std::string& xml, const char* name, const char* ns) {
    gloox::Tag* copy = nullptr;
    auto parsed =
        jgather::detail::parse_element(xml, name, ns, [&](const gloox::Tag& t) -> Result<void> {
            copy = t.clone();
            return {};
        });
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    return std::unique_ptr<gloox::Tag>(copy);
}

const std::string kTransportNs(xep0176::kNamespace);

} // namespace

TEST(Jingle, TheTransportPluginWritesWhatTheWriterWrites) {
    xep0176::Transport t{"abcd",
                         "0123456789012345678901",
                         {host("192.0.2.1", 5000, "a1"), host("198.51.100.1", 5001, "a2")}};
    jingle::IceUdpTransport plugin(t);
    std::unique_ptr<gloox::Tag> tag(plugin.tag());
    ASSERT_TRUE(tag);
    EXPECT_EQ(tag->xml(), xep0176::write(t));
    EXPECT_EQ(tag->xml().find("rel-port"), std::string::npos) << "unlike gloox's ICEUDP";
    EXPECT_EQ(plugin.filterString(),
              "content/transport[@xmlns='urn:xmpp:jingle:transports:ice-udp:1']");
    EXPECT_EQ(plugin.features().front(), kTransportNs);
}

TEST(Jingle, AReceivedTransportIsReadStrictlyAndAnErrorIsKept) {
    jingle::IceUdpTransport prototype;
    const xep0176::Transport t{"abcd", "0123456789012345678901", {host("192.0.2.1", 5000, "a1")}};
    auto good = parse(xep0176::write(t), "transport", xep0176::kNamespace.data());
    std::unique_ptr<gloox::Jingle::Plugin> read(prototype.newInstance(good.get()));
    auto* transport = static_cast<jingle::IceUdpTransport*>(read.get());
    ASSERT_TRUE(transport->valid()) << transport->error();
    ASSERT_EQ(transport->transport().candidates.size(), 1U);
    EXPECT_EQ(transport->transport().candidates[0].host, "192.0.2.1");
    EXPECT_EQ(transport->transport().ufrag, "abcd");

    // A port out of range: kept as an invalid plugin that names the attribute.
    std::string bad_xml = xep0176::write(t);
    bad_xml.replace(bad_xml.find("port='5000'"), 11, "port='70000'");
    auto bad = parse(bad_xml, "transport", xep0176::kNamespace.data());
    std::unique_ptr<gloox::Jingle::Plugin> refused(prototype.newInstance(bad.get()));
    auto* invalid = static_cast<jingle::IceUdpTransport*>(refused.get());
    EXPECT_FALSE(invalid->valid());
    EXPECT_NE(invalid->error().find("'port'"), std::string::npos) << invalid->error();
    EXPECT_TRUE(invalid->transport().candidates.empty());

    // Loopback is refused unless the prototype's read options accept it.
    auto loop =
        parse(xep0176::write({"abcd", "0123456789012345678901", {host("127.0.0.1", 5, "l")}}),
              "transport", xep0176::kNamespace.data());
    std::unique_ptr<gloox::Jingle::Plugin> strict(prototype.newInstance(loop.get()));
    EXPECT_FALSE(static_cast<jingle::IceUdpTransport*>(strict.get())->valid());
    ReadOptions lenient;
    lenient.accept_loopback = true;
    jingle::IceUdpTransport lenient_prototype(lenient);
    std::unique_ptr<gloox::Jingle::Plugin> accepted(lenient_prototype.newInstance(loop.get()));
    EXPECT_TRUE(static_cast<jingle::IceUdpTransport*>(accepted.get())->valid());
}

TEST(Jingle, AContentCarriesTheDescriptionAsIsAndTheTransport) {
    gloox::Tag description("description");
    description.setXmlns("urn:xmpp:jingle:apps:rtp:1");
    description.addAttribute("media", "audio");
    std::unique_ptr<gloox::Jingle::Content> content(
        jingle::make_content("voice", gloox::Jingle::Content::CInitiator, &description,
                             {"abcd", "0123456789012345678901", {host("192.0.2.1", 5000, "a1")}}));
    const jingle::IceUdpTransport* transport = jingle::ice_udp_of(*content);
    ASSERT_NE(transport, nullptr);
    EXPECT_EQ(transport->transport().candidates.size(), 1U);
    std::unique_ptr<gloox::Tag> tag(content->tag());
    ASSERT_TRUE(tag);
    const std::string xml = tag->xml();
    EXPECT_NE(xml.find("name='voice'"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>"),
              std::string::npos)
        << xml;
    EXPECT_NE(xml.find("<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'"),
              std::string::npos)
        << xml;
}

TEST(Xep0176, EndOfCandidatesIsWrittenReadAndStrict) {
    const std::string eoc = xep0176::write_end_of_candidates("abcd", "0123456789012345678901");
    EXPECT_NE(eoc.find("<end-of-candidates/>"), std::string::npos) << eoc;
    auto read = xep0176::read(eoc);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(read->end_of_candidates);
    EXPECT_TRUE(read->candidates.empty());
    EXPECT_EQ(read->ufrag, "abcd");
    auto plain = xep0176::read(xep0176::write({"abcd", "0123456789012345678901", {}}));
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->end_of_candidates);
    xep0176::Transport with{"abcd", "0123456789012345678901", {host("192.0.2.1", 5000, "a1")}};
    with.end_of_candidates = true;
    auto both = xep0176::read(xep0176::write(with));
    ASSERT_TRUE(both);
    EXPECT_TRUE(both->end_of_candidates);
    EXPECT_EQ(both->candidates.size(), 1U);
    auto bad = xep0176::read("<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>"
                             "<end-of-candidates when='now'/></transport>");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("end-of-candidates"), std::string::npos);
}

TEST(Jingle, AnS5bTransportTravelsAsAnElementAndIsReadBackStrictly) {
    Candidate proxy;
    proxy.fields = S5bFields{};
    proxy.host = "203.0.113.1";
    proxy.port = 7777;
    proxy.priority = 655360;
    proxy.s5b()->type = S5bType::Proxy;
    proxy.s5b()->cid = "p1";
    proxy.s5b()->jid = "proxy.example.org";
    xep0260::Transport t{"s1", "", "tcp", {proxy}};
    gloox::Tag description("description");
    description.setXmlns("urn:xmpp:jingle:apps:file-transfer:5");
    std::unique_ptr<gloox::Jingle::Content> content(
        jingle::make_content("file", gloox::Jingle::Content::CInitiator, &description, t,
                             gloox::Jingle::Content::SInitiator));
    std::unique_ptr<gloox::Tag> tag(content->tag());
    ASSERT_TRUE(tag);
    EXPECT_NE(tag->xml().find("senders='initiator'"), std::string::npos) << tag->xml();

    // As gloox's session manager reads it: the registered prototype's newInstance() on each
    // element its filter matches (gloox's PluginFactory is private to the manager).
    const jingle::ElementPlugin prototype(jingle::s5b_filter());
    const auto received = [&](const gloox::Tag& content_tag) {
        gloox::Jingle::PluginList plugins;
        for (const gloox::Tag* t : content_tag.findTagList(jingle::s5b_filter())) {
            plugins.push_back(prototype.newInstance(t));
        }
        return std::make_unique<gloox::Jingle::Content>("file", plugins);
    };
    ASSERT_EQ(tag->findTagList(jingle::s5b_filter()).size(), 1U);
    auto read = jingle::s5b_of(*received(*tag));
    ASSERT_TRUE(read.has_value());
    ASSERT_TRUE(*read) << read->error().message;
    ASSERT_EQ((*read)->candidates.size(), 1U);
    EXPECT_TRUE((*read)->candidates[0].same_wire_fields(proxy));

    // A broken one is an error naming the attribute, not a silent nothing.
    std::unique_ptr<gloox::Tag> bad(tag->clone());
    bad->findChild("transport")->findChild("candidate")->addAttribute("port", "0");
    auto refused = jingle::s5b_of(*received(*bad));
    ASSERT_TRUE(refused.has_value());
    ASSERT_FALSE(*refused);
    EXPECT_NE(refused->error().message.find("'port'"), std::string::npos)
        << refused->error().message;

    // A content without an S5B transport has none.
    gloox::Jingle::Content empty(std::string("x"), gloox::Jingle::PluginList{});
    EXPECT_FALSE(jingle::s5b_of(empty).has_value());
}
