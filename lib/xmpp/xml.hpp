// Strict reading of one XML element with gloox's Parser, and attribute checks shared by the
// XEP readers. Every error names the element and the attribute at fault.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gloox/tag.h>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>
#include <jgather/result.hpp>

namespace jgather::detail {

/** Largest document a reader accepts (a 64-candidate transport is about 15 KiB). */
inline constexpr std::size_t kMaxDocumentSize = 64 * 1024;

/**
 * Parses exactly one complete element and hands it to @p on_root while the parser still owns it
 * (no copy). Rejects malformed or truncated XML, several top-level elements, documents over
 * kMaxDocumentSize, and a root that is not <@p name xmlns='@p ns'>; otherwise returns what
 * @p on_root returned.
 */
Result<void> parse_element(std::string_view xml, std::string_view name, std::string_view ns,
                           const std::function<Result<void>(const gloox::Tag&)>& on_root);

/** parse_element() with a conversion of the root into a T: the whole of a reader. */
template <typename T, typename Convert>
Result<T> read_element(std::string_view xml, std::string_view name, std::string_view ns,
                       const Convert& convert) {
    T out;
    auto parsed = parse_element(xml, name, ns, [&](const gloox::Tag& root) -> Result<void> {
        auto converted = convert(root);
        if (!converted) {
            return converted.error();
        }
        out = std::move(*converted);
        return {};
    });
    if (!parsed) {
        return parsed.error();
    }
    return out;
}

/** True when @p child is in the namespace of its parent (no xmlns of its own, or the same). */
bool in_parent_namespace(const gloox::Tag& child, std::string_view ns);

/**
 * @brief Typed, strict access to one element's attributes.
 *
 * A reader names the attributes it knows in a table; one pass over gloox's list files each into
 * its slot (no per-lookup search), rejects duplicates, and leaves attributes of other
 * namespaces (a prefix) and unknown ones alone. Accessors take the slot; messages use the name.
 */
class Attributes {
public:
    /** Most attributes on one element (hostile input bound). */
    static constexpr std::size_t kMaxAttributes = 32;
    /** Most attributes a reader can know for one element. */
    static constexpr std::size_t kMaxKnown = 16;

    /**
     * Files @p tag's attributes into the slots of @p known. Rejects duplicates (not well-formed
     * XML, which gloox tolerates) and more than kMaxAttributes. Errors name the element as
     * "@p element" or, with an @p index, "@p element[index]".
     */
    static Result<Attributes> of(const gloox::Tag& tag, std::span<const std::string_view> known,
                                 std::string_view element, long index = -1);

    [[nodiscard]] bool has(std::size_t slot) const { return slots_[slot] != nullptr; }
    /** A required attribute's text; an error when missing or empty. */
    [[nodiscard]] Result<std::string> text(std::size_t slot) const;
    /** A required unsigned decimal in [min, max]; no sign, blanks or leading '+'. */
    [[nodiscard]] Result<std::uint32_t> number(std::size_t slot, std::uint32_t min,
                                               std::uint32_t max) const;
    /** A required port, 1-65535. */
    [[nodiscard]] Result<std::uint16_t> port(std::size_t slot) const;
    /** A required literal IP. */
    [[nodiscard]] Result<IpAddress> address(std::size_t slot) const;
    /** A required literal IP, returned in canonical form. */
    [[nodiscard]] Result<std::string> ip(std::size_t slot) const;
    /** ip(), where a peer can be (peer_address_problem()). */
    [[nodiscard]] Result<std::string> peer_ip(std::size_t slot, const ReadOptions& options) const;
    /** A required string of RFC 8445 ice-chars, @p min_length to @p max_length long. */
    [[nodiscard]] Result<std::string> ice_chars(std::size_t slot, std::size_t min_length,
                                                std::size_t max_length) const;
    /** A required XML NMTOKEN-like identifier ([A-Za-z0-9._:-]), 1 to @p max_length long. */
    [[nodiscard]] Result<std::string> token(std::size_t slot, std::size_t max_length) const;
    /** An optional XEP-0065 §5.3.1 / XEP-0260 §2.2 stream mode: "tcp" (the default) or "udp". */
    [[nodiscard]] Result<std::string> stream_mode(std::size_t slot) const;
    /** A required string of at most @p max_length characters (XEP-0065 sid: 64). */
    [[nodiscard]] Result<std::string> bounded_text(std::size_t slot, std::size_t max_length) const;
    /** An error "element: attribute 'name': what". */
    [[nodiscard]] Error error(std::size_t slot, const std::string& what) const;

private:
    Attributes(std::span<const std::string_view> known, std::string_view element, long index)
        : known_(known), element_(element), index_(index) {}
    /** "element" or "element[index]": built only for an error message. */
    [[nodiscard]] std::string where() const;
    /** The error for a required attribute that is missing or empty. */
    [[nodiscard]] Error absent(std::size_t slot) const;

    std::array<const std::string*, kMaxKnown> slots_{};
    std::span<const std::string_view> known_;
    std::string_view element_;
    long index_ = -1;
};

/** @brief Builds an element's attribute list in one go (Tag::addAttribute rescans per call). */
class AttributeWriter {
public:
    void add(const std::string& name, std::string value) {
        if (!value.empty()) {
            list_.push_back(new gloox::Tag::Attribute(name, value));
        }
    }
    /** Hands the attributes to @p tag, which takes ownership. */
    void apply_to(gloox::Tag& tag) {
        tag.setAttributes(list_);
        list_.clear();
    }
    ~AttributeWriter() {
        for (auto* a : list_) {
            delete a;
        }
    }

private:
    gloox::Tag::AttributeList list_;
};

/** True for a valid JID (RFC 7622, via gloox's stringprep). */
bool valid_jid(const std::string& jid);

/** Why @p host is neither a literal IP nor an RFC 1123 host name, or nothing. A name that
 * looks numeric ("2130706433", "0x7f000001", "010.1.1.1", "1.2.3") is refused: the C library
 * reads it as another address, and RFC 1123 §2.1 rules such names out. */
std::optional<std::string> host_problem(const std::string& host);

/** Why a peer cannot be at @p ip (remote_address_problem(), and loopback or link-local unless
 * @p options accept them), or nothing. */
std::optional<std::string> peer_address_problem(const IpAddress& ip, const ReadOptions& options);

/** Where @p xml has a character XML 1.0 §2.2 does not allow, or is not UTF-8 (RFC 3629): the
 * offset and, inside an attribute value, the attribute. gloox's parser drops such an attribute
 * without a word, so this runs before it. */
std::optional<std::string> character_problem(std::string_view xml);

} // namespace jgather::detail
