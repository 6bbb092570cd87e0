#include "file_offer.hpp"
#include <cerrno>
#include <cstdlib>

#include <jgather/jingle.hpp>

namespace transfer {

gloox::Tag make_description(const FileOffer& file) {
    gloox::Tag description("description");
    description.setXmlns(kFileTransferNs);
    auto* f = new gloox::Tag(&description, "file");
    new gloox::Tag(f, "name", file.name);
    if (file.size) {
        new gloox::Tag(f, "size", std::to_string(*file.size));
    }
    if (!file.sha256_base64.empty()) {
        auto* hash = new gloox::Tag(f, "hash", file.sha256_base64);
        hash->setXmlns(kHashesNs);
        hash->addAttribute("algo", "sha-256");
    }
    return description;
}

// The file description of @p content, or why it is not one.
jgather::Result<FileOffer> read_description(const gloox::Jingle::Content& content) {
    const gloox::Tag* description = nullptr;
    for (const gloox::Jingle::Plugin* plugin : content.plugins()) {
        if (plugin->pluginType() == jgather::jingle::kElementPluginType) {
            const gloox::Tag* e =
                static_cast<const jgather::jingle::ElementPlugin*>(plugin)->element();
            if (e != nullptr && e->name() == "description" && e->xmlns() == kFileTransferNs) {
                description = e;
            }
        }
    }
    if (description == nullptr) {
        return jgather::Error{"the content has no XEP-0234 <description/> (" +
                              std::string(kFileTransferNs) + ")"};
    }
    const gloox::Tag* file = description->findChild("file");
    if (file == nullptr) {
        return jgather::Error{"description: no <file/>"};
    }
    FileOffer offer;
    if (const gloox::Tag* name = file->findChild("name")) {
        offer.name = name->cdata();
    }
    if (const gloox::Tag* size = file->findChild("size")) {
        const std::string text = size->cdata();
        char* end = nullptr;
        errno = 0;
        const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-') {
            return jgather::Error{"file: <size/> '" + text + "' is not a number of bytes"};
        }
        offer.size = value;
    }
    for (const gloox::Tag* hash : file->findChildren("hash")) {
        if (hash->xmlns() == kHashesNs && hash->findAttribute("algo") == "sha-256") {
            offer.sha256_base64 = hash->cdata();
        }
    }
    return offer;
}

} // namespace transfer
