#include "xml.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstdio>

#include <gloox/jid.h>
#include <gloox/parser.h>
#include <gloox/taghandler.h>

#include <jgather/address.hpp>

namespace jgather::detail {
namespace {

// Runs the caller's conversion on the first top-level element, while the parser owns it.
class RootHandler final : public gloox::TagHandler {
public:
    RootHandler(std::string_view name, std::string_view ns,
                const std::function<Result<void>(const gloox::Tag&)>& on_root)
        : name_(name), ns_(ns), on_root_(on_root) {}
    void handleTag(gloox::Tag* tag) override {
        if (++count != 1) {
            return;
        }
        const auto where = [this] {
            return "<" + std::string(name_) + ">";
        }; // errors only
        if (tag->name() != name_) {
            result = Error{where() + ": expected element <" + std::string(name_) + ">, got <" +
                           tag->name() + ">"};
        } else if (tag->xmlns() != ns_) {
            result = Error{where() + ": attribute 'xmlns': expected '" + std::string(ns_) +
                           "', got '" + tag->xmlns() + "'"};
        } else {
            result = on_root_(*tag);
        }
    }
    int count = 0;
    Result<void> result;

private:
    std::string_view name_;
    std::string_view ns_;
    const std::function<Result<void>(const gloox::Tag&)>& on_root_;
};

// Attribute names are short: an inline loop beats a call to memcmp.
bool same_name(std::string_view a, const std::string& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

bool is_ice_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

} // namespace

Result<void> parse_element(std::string_view xml, std::string_view name, std::string_view ns,
                           const std::function<Result<void>(const gloox::Tag&)>& on_root) {
    const auto where = [name] {
        return "<" + std::string(name) + ">";
    }; // errors only
    if (xml.size() > kMaxDocumentSize) {
        return Error{where() + ": document is " + std::to_string(xml.size()) +
                     " bytes, more than " + std::to_string(kMaxDocumentSize)};
    }
    if (auto problem = character_problem(xml)) {
        return Error{where() + ": " + *problem};
    }
    RootHandler handler(name, ns, on_root);
    gloox::Parser parser(&handler);
    // gloox's Parser wants a mutable std::string; reuse one buffer per thread so that a read
    // costs no allocation for it (a fresh 2 KiB malloc after gloox freed a tree is slow).
    thread_local std::string copy;
    copy.assign(xml);
    const int status = parser.feed(copy);
    if (status >= 0) {
        return Error{where() + ": malformed XML at offset " + std::to_string(status)};
    }
    if (handler.count == 0) {
        return Error{where() + ": no complete element"};
    }
    if (handler.count > 1) {
        return Error{where() + ": more than one top-level element"};
    }
    // Anything after the element would be the start of an unterminated second one.
    const auto end = copy.find_last_not_of(" \t\r\n");
    if (end != std::string::npos && copy[end] != '>') {
        return Error{where() + ": text after the element"};
    }
    return handler.result;
}

bool in_parent_namespace(const gloox::Tag& child, std::string_view ns) {
    static const std::string kXmlns = "xmlns";
    const std::string& own = child.findAttribute(kXmlns);
    return own.empty() || own == ns;
}

std::string Attributes::where() const {
    std::string text(element_);
    if (index_ >= 0) {
        text += "[" + std::to_string(index_) + "]";
    }
    return text;
}

Result<Attributes> Attributes::of(const gloox::Tag& tag, std::span<const std::string_view> known,
                                  std::string_view element, long index) {
    Attributes attributes(known, element, index);
    // Attributes outside the known table (other namespaces, extensions) are only checked for
    // duplicates among themselves.
    std::array<const gloox::Tag::Attribute*, kMaxAttributes> others{};
    std::size_t other_count = 0;
    std::size_t total = 0;
    std::size_t next = 0;
    for (const gloox::Tag::Attribute* a : tag.attributes()) {
        if (++total > kMaxAttributes) {
            return Error{attributes.where() + ": more than " + std::to_string(kMaxAttributes) +
                         " attributes"};
        }
        const std::string& name = a->name();
        // Writers emit attributes in table order, so the search starts after the last match.
        std::size_t slot = known.size();
        for (std::size_t step = 0, k = next; step < known.size(); ++step, ++k) {
            if (k == known.size()) {
                k = 0;
            }
            if (same_name(known[k], name)) {
                slot = k;
                next = k + 1;
                break;
            }
        }
        // prefix() is a lookup inside gloox: asked only for a known name.
        if (slot < known.size() && a->prefix().empty()) {
            if (attributes.slots_[slot] != nullptr) {
                // Not well-formed XML (XML 1.0 §3.1), which gloox's parser tolerates.
                return Error{attributes.where() + ": attribute '" + name + "' appears twice"};
            }
            attributes.slots_[slot] = &a->value();
            continue;
        }
        for (std::size_t o = 0; o < other_count; ++o) {
            if (others[o]->name() == name && others[o]->prefix() == a->prefix()) {
                return Error{attributes.where() + ": attribute '" + name + "' appears twice"};
            }
        }
        others[other_count++] = a;
    }
    return attributes;
}

Error Attributes::absent(std::size_t slot) const {
    return error(slot, slots_[slot] ? "empty" : "missing");
}

Error Attributes::error(std::size_t slot, const std::string& what) const {
    return Error{where() + ": attribute '" + std::string(known_[slot]) + "': " + what};
}

Result<std::string> Attributes::text(std::size_t slot) const {
    const std::string* value = slots_[slot];
    if (!value || value->empty()) {
        return absent(slot);
    }
    return *value;
}

Result<std::uint32_t> Attributes::number(std::size_t slot, std::uint32_t min,
                                         std::uint32_t max) const {
    const std::string* value = slots_[slot];
    if (!value || value->empty()) {
        return absent(slot);
    }
    const std::string& digits = *value;
    if (digits.size() > 1 && digits[0] == '0') {
        return error(slot, "'" + digits + "' has a leading zero");
    }
    // One pass: digits only (no sign, blanks or '+'), stop counting past 10 digits.
    std::uint64_t parsed = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') {
            return error(slot, "'" + digits + "' is not an unsigned decimal number");
        }
        if (parsed <= 0xffffffffULL) {
            parsed = parsed * 10 + static_cast<unsigned>(c - '0');
        }
    }
    if (parsed < min || parsed > max) {
        return error(slot, digits + " is out of range " + std::to_string(min) + "-" +
                               std::to_string(max));
    }
    return static_cast<std::uint32_t>(parsed);
}

Result<std::uint16_t> Attributes::port(std::size_t slot) const {
    auto value = number(slot, 1, 65535);
    if (!value) {
        return value.error();
    }
    return static_cast<std::uint16_t>(*value);
}

Result<IpAddress> Attributes::address(std::size_t slot) const {
    const std::string* value = slots_[slot];
    if (!value || value->empty()) {
        return absent(slot);
    }
    auto parsed = IpAddress::parse(*value);
    if (!parsed) {
        return error(slot, parsed.error().message);
    }
    return parsed;
}

Result<std::string> Attributes::ip(std::size_t slot) const {
    auto parsed = address(slot);
    if (!parsed) {
        return parsed.error();
    }
    // IpAddress::parse accepts IPv4 only in canonical dotted-quad (no leading zeros): keep it.
    return parsed->family() == Family::IPv4 ? *slots_[slot] : parsed->to_string();
}

Result<std::string> Attributes::peer_ip(std::size_t slot, const ReadOptions& options) const {
    auto parsed = address(slot);
    if (!parsed) {
        return parsed.error();
    }
    if (auto problem = peer_address_problem(*parsed, options)) {
        return error(slot, *problem);
    }
    return parsed->family() == Family::IPv4 ? *slots_[slot] : parsed->to_string();
}

Result<std::string> Attributes::ice_chars(std::size_t slot, std::size_t min_length,
                                          std::size_t max_length) const {
    auto value = text(slot);
    if (!value) {
        return value.error();
    }
    if (value->size() < min_length || value->size() > max_length) {
        return error(slot, "length " + std::to_string(value->size()) + " is outside " +
                               std::to_string(min_length) + "-" + std::to_string(max_length));
    }
    if (!std::all_of(value->begin(), value->end(), is_ice_char)) {
        return error(slot, "'" + *value +
                               "' has characters outside ALPHA / DIGIT / '+' / '/' "
                               "(RFC 8445 §5.3 ice-char)");
    }
    return value;
}

Result<std::string> Attributes::token(std::size_t slot, std::size_t max_length) const {
    auto value = text(slot);
    if (!value) {
        return value.error();
    }
    if (value->size() > max_length) {
        return error(slot, "longer than " + std::to_string(max_length) + " characters");
    }
    const bool ok = std::all_of(value->begin(), value->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    });
    if (!ok) {
        return error(slot, "'" + *value + "' has characters outside A-Z a-z 0-9 . _ : -");
    }
    return value;
}

Result<std::string> Attributes::stream_mode(std::size_t slot) const {
    if (!has(slot)) {
        return std::string("tcp");
    }
    auto mode = text(slot);
    if (mode && *mode != "tcp" && *mode != "udp") {
        return error(slot, "'" + *mode + "' is not 'tcp' or 'udp'");
    }
    return mode;
}

Result<std::string> Attributes::bounded_text(std::size_t slot, std::size_t max_length) const {
    auto value = text(slot);
    if (value && value->size() > max_length) {
        return error(slot, "longer than " + std::to_string(max_length) + " characters");
    }
    return value;
}

bool valid_jid(const std::string& jid) {
    gloox::JID parsed;
    return !jid.empty() && parsed.setJID(jid) && !parsed.server().empty();
}

std::optional<std::string> host_problem(const std::string& host) {
    if (IpAddress::parse(host)) {
        return std::nullopt;
    }
    const std::string quoted = "'" + host + "'";
    in_addr numeric{};
    if (::inet_aton(host.c_str(), &numeric) != 0) {
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &numeric, text, sizeof text);
        return quoted + " is not a literal IP, yet the C library reads it as " + text +
               " (RFC 1123 §2.1: a host name is never numeric)";
    }
    // RFC 1123 §2.1 host name: dot-separated labels of letters, digits and inner hyphens.
    if (host.empty() || host.size() > 253) {
        return quoted + " is neither a literal IP nor a host name";
    }
    std::size_t label = 0;
    std::size_t last_label = 0;
    bool last_all_digits = true;
    for (std::size_t i = 0; i < host.size(); ++i) {
        const char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-') {
                return quoted + " is neither a literal IP nor a host name";
            }
            label = 0;
            last_label = i + 1;
            last_all_digits = true;
            continue;
        }
        const bool digit = c >= '0' && c <= '9';
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit;
        if (!alnum && !(c == '-' && label > 0)) {
            return quoted + " is neither a literal IP nor a host name";
        }
        last_all_digits = last_all_digits && digit;
        if (++label > 63) {
            return quoted + " has a label longer than 63 characters";
        }
    }
    if (label == 0 || host.back() == '-') {
        return quoted + " is neither a literal IP nor a host name";
    }
    if (last_all_digits) {
        // RFC 1123 §2.1: "the highest-level component label will be alphabetic".
        return quoted + " ends in the numeric label '" + host.substr(last_label) +
               "' (RFC 1123 §2.1: a host name is never numeric)";
    }
    return std::nullopt;
}

std::optional<std::string> peer_address_problem(const IpAddress& ip, const ReadOptions& options) {
    if (auto problem = remote_address_problem(ip)) {
        return *problem + ", where no peer can be";
    }
    const IpAddress a = ip.unmapped();
    if (a.is_loopback() && !options.accept_loopback) {
        return a.to_string() + " is a loopback address (ReadOptions::accept_loopback)";
    }
    if (a.is_link_local() && !options.accept_link_local) {
        return a.to_string() + " is a link-local address (ReadOptions::accept_link_local)";
    }
    return std::nullopt;
}

namespace {

// The attribute whose value holds @p offset, if any: the name before the nearest opening quote
// that follows an '='.
std::string attribute_at(std::string_view xml, std::size_t offset) {
    const std::size_t tag = xml.rfind('<', offset);
    const std::size_t closed = xml.rfind('>', offset);
    if (tag == std::string_view::npos || (closed != std::string_view::npos && closed > tag)) {
        return {};
    }
    bool in_value = false;
    char quote = 0;
    std::size_t name_start = 0;
    std::size_t name_end = 0;
    for (std::size_t i = tag; i < offset; ++i) {
        const char c = xml[i];
        if (in_value) {
            in_value = c != quote;
        } else if (c == '\'' || c == '"') {
            in_value = true;
            quote = c;
            std::size_t e = i;
            while (e > tag && (xml[e - 1] == '=' || xml[e - 1] == ' ')) {
                --e;
            }
            name_end = e;
            name_start = e;
            while (name_start > tag && xml[name_start - 1] != ' ' && xml[name_start - 1] != '\t' &&
                   xml[name_start - 1] != '\n') {
                --name_start;
            }
        }
    }
    return in_value ? std::string(xml.substr(name_start, name_end - name_start)) : std::string();
}

} // namespace

std::optional<std::string> character_problem(std::string_view xml) {
    const auto at = [xml](std::size_t offset, const std::string& what) {
        const std::string attribute = attribute_at(xml, offset);
        return (attribute.empty() ? std::string() : "attribute '" + attribute + "': ") + what +
               " at offset " + std::to_string(offset);
    };
    const auto* bytes = reinterpret_cast<const unsigned char*>(xml.data());
    for (std::size_t i = 0; i < xml.size();) {
        // The common case first: printable ASCII and the three allowed controls.
        while (i < xml.size() && ((bytes[i] >= 0x20 && bytes[i] < 0x80) || bytes[i] == '\n' ||
                                  bytes[i] == '\t' || bytes[i] == '\r')) {
            ++i;
        }
        if (i == xml.size()) {
            break;
        }
        const auto byte = bytes[i];
        std::uint32_t code = 0;
        std::size_t length = 1;
        if (byte < 0x80) {
            code = byte;
        } else if (byte >= 0xc2 && byte <= 0xdf) {
            code = byte & 0x1f;
            length = 2;
        } else if (byte >= 0xe0 && byte <= 0xef) {
            code = byte & 0x0f;
            length = 3;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
            code = byte & 0x07;
            length = 4;
        } else {
            return at(i, "invalid UTF-8");
        }
        if (i + length > xml.size()) {
            return at(i, "truncated UTF-8");
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(xml[i + k]);
            if ((next & 0xc0) != 0x80) {
                return at(i, "invalid UTF-8");
            }
            code = (code << 6) | (next & 0x3f);
        }
        // RFC 3629 §3: no overlong forms, no surrogates, nothing past U+10FFFF.
        const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
        if (overlong || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
            return at(i, "invalid UTF-8");
        }
        // XML 1.0 §2.2 Char.
        const bool allowed = code == 0x9 || code == 0xa || code == 0xd ||
                             (code >= 0x20 && code <= 0xd7ff) ||
                             (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
        if (!allowed) {
            char hex[16];
            std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(code));
            return at(i, std::string("character ") + hex + " (not allowed in XML 1.0 §2.2)");
        }
        i += length;
    }
    return std::nullopt;
}

} // namespace jgather::detail
