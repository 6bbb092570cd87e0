#include "xml.hpp"

#include <jgather/address.hpp>

#include <gloox/jid.h>
#include <gloox/parser.h>
#include <gloox/taghandler.h>

#include <algorithm>
#include <charconv>

namespace jgather::detail {
namespace {

// Collects the top-level elements the parser completes.
class Collector final : public gloox::TagHandler {
public:
    void handleTag(gloox::Tag* tag) override {
        ++count;
        if (!first) {
            first.reset(tag->clone());
        }
    }
    std::unique_ptr<gloox::Tag> first;
    int count = 0;
};

bool is_ice_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

} // namespace

Result<std::unique_ptr<gloox::Tag>> parse_element(std::string_view xml, std::string_view name,
                                                  std::string_view ns) {
    const std::string where = "<" + std::string(name) + ">";
    if (xml.size() > kMaxDocumentSize) {
        return Error{where + ": document is " + std::to_string(xml.size()) + " bytes, more than " +
                     std::to_string(kMaxDocumentSize)};
    }
    Collector collector;
    gloox::Parser parser(&collector);
    std::string copy(xml);
    const int status = parser.feed(copy);
    if (status >= 0) {
        return Error{where + ": malformed XML at offset " + std::to_string(status)};
    }
    if (collector.count == 0) {
        return Error{where + ": no complete element"};
    }
    if (collector.count > 1) {
        return Error{where + ": more than one top-level element"};
    }
    // Trailing text after the element would be an unterminated second element.
    const auto end = copy.find_last_not_of(" \t\r\n");
    if (end != std::string::npos && copy[end] != '>') {
        return Error{where + ": text after the element"};
    }
    std::unique_ptr<gloox::Tag> tag = std::move(collector.first);
    if (tag->name() != name) {
        return Error{where + ": expected element <" + std::string(name) + ">, got <" + tag->name() +
                     ">"};
    }
    if (tag->xmlns() != ns) {
        return Error{where + ": attribute 'xmlns': expected '" + std::string(ns) + "', got '" +
                     tag->xmlns() + "'"};
    }
    return tag;
}

bool in_parent_namespace(const gloox::Tag& child, std::string_view ns) {
    const std::string own = child.findAttribute("xmlns");
    return own.empty() || own == ns;
}

Result<Attributes> Attributes::of(const gloox::Tag& tag, std::string element) {
    const auto& list = tag.attributes();
    for (auto a = list.begin(); a != list.end(); ++a) {
        for (auto b = std::next(a); b != list.end(); ++b) {
            if ((*a)->name() == (*b)->name() && (*a)->xmlns() == (*b)->xmlns()) {
                return Error{element + ": attribute '" + (*a)->name() + "' appears twice"};
            }
        }
    }
    return Attributes(tag, std::move(element));
}

bool Attributes::has(const std::string& name) const { return tag_.hasAttribute(name); }

Error Attributes::error(const std::string& name, const std::string& what) const {
    return Error{element_ + ": attribute '" + name + "': " + what};
}

Result<std::string> Attributes::text(const std::string& name) const {
    if (!tag_.hasAttribute(name)) {
        return error(name, "missing");
    }
    std::string value = tag_.findAttribute(name);
    if (value.empty()) {
        return error(name, "empty");
    }
    return value;
}

Result<std::uint32_t> Attributes::number(const std::string& name, std::uint32_t min,
                                         std::uint32_t max) const {
    auto value = text(name);
    if (!value) {
        return value.error();
    }
    const std::string& digits = *value;
    const bool all_digits = std::all_of(digits.begin(), digits.end(),
                                        [](char c) { return c >= '0' && c <= '9'; });
    std::uint64_t parsed = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
    if (!all_digits || ec == std::errc::invalid_argument || end != digits.data() + digits.size()) {
        return error(name, "'" + digits + "' is not an unsigned decimal number");
    }
    if (ec == std::errc::result_out_of_range || parsed < min || parsed > max) {
        return error(name, digits + " is out of range " + std::to_string(min) + "-" +
                               std::to_string(max));
    }
    return static_cast<std::uint32_t>(parsed);
}

Result<std::uint16_t> Attributes::port(const std::string& name) const {
    auto value = number(name, 1, 65535);
    if (!value) {
        return value.error();
    }
    return static_cast<std::uint16_t>(*value);
}

Result<std::string> Attributes::ip(const std::string& name) const {
    auto value = text(name);
    if (!value) {
        return value.error();
    }
    auto parsed = IpAddress::parse(*value);
    if (!parsed) {
        return error(name, parsed.error().message);
    }
    return parsed->to_string();
}

Result<std::string> Attributes::ice_chars(const std::string& name, std::size_t min_length,
                                          std::size_t max_length) const {
    auto value = text(name);
    if (!value) {
        return value.error();
    }
    if (value->size() < min_length || value->size() > max_length) {
        return error(name, "length " + std::to_string(value->size()) + " is outside " +
                               std::to_string(min_length) + "-" + std::to_string(max_length));
    }
    if (!std::all_of(value->begin(), value->end(), is_ice_char)) {
        return error(name, "'" + *value + "' has characters outside ALPHA / DIGIT / '+' / '/' "
                                          "(RFC 8445 §5.3 ice-char)");
    }
    return value;
}

Result<std::string> Attributes::token(const std::string& name, std::size_t max_length) const {
    auto value = text(name);
    if (!value) {
        return value.error();
    }
    if (value->size() > max_length) {
        return error(name, "longer than " + std::to_string(max_length) + " characters");
    }
    const bool ok = std::all_of(value->begin(), value->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    });
    if (!ok) {
        return error(name, "'" + *value + "' has characters outside A-Z a-z 0-9 . _ : -");
    }
    return value;
}

bool valid_jid(const std::string& jid) {
    gloox::JID parsed;
    return !jid.empty() && parsed.setJID(jid) && !parsed.server().empty();
}

bool valid_host(const std::string& host) {
    if (IpAddress::parse(host)) {
        return true;
    }
    // RFC 1123 §2.1 host name: dot-separated labels of letters, digits and inner hyphens.
    if (host.empty() || host.size() > 253) {
        return false;
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i < host.size(); ++i) {
        const char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) {
            return false;
        }
        if (++label > 63) {
            return false;
        }
    }
    return label > 0 && host.back() != '-';
}

} // namespace jgather::detail
