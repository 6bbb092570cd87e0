// jgather's XEP-0176 transport and an as-is element as gloox Jingle plugins.
#include <jgather/jingle.hpp>

#include "../util/guard.hpp"
#include "../xmpp/xep0176_tag.hpp"
#include "../xmpp/xml.hpp"

namespace jgather::jingle {
namespace {

gloox::Jingle::JinglePluginType plugin_type(int type) {
    return static_cast<gloox::Jingle::JinglePluginType>(type);
}

// A writer's one element as a Tag that gloox will own.
gloox::Tag* tag_of(const std::string& xml, std::string_view ns = xep0176::kNamespace) {
    gloox::Tag* copy = nullptr;
    (void)jgather::detail::parse_element(xml, "transport", ns,
                                         [&copy](const gloox::Tag& root) -> Result<void> {
                                             copy = root.clone();
                                             return {};
                                         });
    return copy;
}

} // namespace

IceUdpTransport::IceUdpTransport(ReadOptions options)
    : gloox::Jingle::Plugin(plugin_type(kIceUdpPluginType)), options_(options) {}

IceUdpTransport::IceUdpTransport(xep0176::Transport transport)
    : gloox::Jingle::Plugin(plugin_type(kIceUdpPluginType)), transport_(std::move(transport)) {}

const std::string& IceUdpTransport::filterString() const {
    static const std::string filter =
        "content/transport[@xmlns='" + std::string(xep0176::kNamespace) + "']";
    return filter;
}

gloox::Tag* IceUdpTransport::tag() const {
    gloox::Tag* out = nullptr;
    // gloox calls this on its own stack while it serialises a stanza: nothing may escape.
    if (auto thrown = jgather::detail::contain([&] { out = tag_of(xep0176::write(transport_)); })) {
        return nullptr;
    }
    return out;
}

gloox::Jingle::Plugin* IceUdpTransport::newInstance(const gloox::Tag* tag) const {
    auto* out = new IceUdpTransport(options_);
    if (tag == nullptr) {
        out->error_ = "no <transport/> element";
        return out;
    }
    if (auto thrown = jgather::detail::contain([&] {
            auto read = xep0176::read_tag(*tag, options_);
            if (read) {
                out->transport_ = std::move(*read);
            } else {
                out->error_ = read.error().message;
            }
        })) {
        out->error_ = "reading the transport threw: " + *thrown;
    }
    return out;
}

gloox::Jingle::Plugin* IceUdpTransport::clone() const {
    return new IceUdpTransport(*this);
}

const gloox::StringList IceUdpTransport::features() const {
    return {std::string(xep0176::kNamespace)};
}

ElementPlugin::ElementPlugin(std::string filter)
    : gloox::Jingle::Plugin(plugin_type(kElementPluginType)), filter_(std::move(filter)) {}

ElementPlugin::ElementPlugin(std::string filter, const gloox::Tag& element)
    : gloox::Jingle::Plugin(plugin_type(kElementPluginType)), filter_(std::move(filter)),
      element_(element.clone()) {}

gloox::Tag* ElementPlugin::tag() const {
    return element_ ? element_->clone() : nullptr;
}

gloox::Jingle::Plugin* ElementPlugin::newInstance(const gloox::Tag* tag) const {
    return tag ? new ElementPlugin(filter_, *tag) : new ElementPlugin(filter_);
}

gloox::Jingle::Plugin* ElementPlugin::clone() const {
    return element_ ? new ElementPlugin(filter_, *element_) : new ElementPlugin(filter_);
}

const IceUdpTransport* ice_udp_of(const gloox::Jingle::Content& content) {
    return content.findPlugin<IceUdpTransport>(kIceUdpPluginType);
}

gloox::Jingle::Content* make_content(const std::string& name,
                                     gloox::Jingle::Content::Creator creator,
                                     const gloox::Tag* description, xep0176::Transport transport) {
    gloox::Jingle::PluginList plugins;
    if (description != nullptr) {
        plugins.push_back(new ElementPlugin(description->name(), *description));
    }
    plugins.push_back(new IceUdpTransport(std::move(transport)));
    return new gloox::Jingle::Content(name, plugins, creator);
}

const std::string& s5b_filter() {
    static const std::string filter =
        "content/transport[@xmlns='" + std::string(xep0260::kNamespace) + "']";
    return filter;
}

std::optional<Result<xep0260::Transport>> s5b_of(const gloox::Jingle::Content& content,
                                                 const ReadOptions& options) {
    for (const gloox::Jingle::Plugin* plugin : content.plugins()) {
        if (plugin->pluginType() != plugin_type(kElementPluginType)) {
            continue;
        }
        const gloox::Tag* element = static_cast<const ElementPlugin*>(plugin)->element();
        if (element != nullptr && element->name() == "transport" &&
            element->xmlns() == xep0260::kNamespace) {
            return xep0260::read(element->xml(), options);
        }
    }
    return std::nullopt;
}

gloox::Jingle::Content* make_content(const std::string& name,
                                     gloox::Jingle::Content::Creator creator,
                                     const gloox::Tag* description,
                                     const xep0260::Transport& transport,
                                     gloox::Jingle::Content::Senders senders) {
    gloox::Jingle::PluginList plugins;
    if (description != nullptr) {
        plugins.push_back(new ElementPlugin(description->name(), *description));
    }
    std::unique_ptr<gloox::Tag> element(tag_of(xep0260::write(transport), xep0260::kNamespace));
    if (element) {
        plugins.push_back(new ElementPlugin(s5b_filter(), *element));
    }
    return new gloox::Jingle::Content(name, plugins, creator, senders);
}

} // namespace jgather::jingle
