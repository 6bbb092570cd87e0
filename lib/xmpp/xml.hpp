// Strict reading of one XML element with gloox's Parser, and attribute checks shared by the
// XEP readers. Every error names the element and the attribute at fault.
#pragma once

#include <jgather/result.hpp>

#include <gloox/tag.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace jgather::detail {

/** Largest document a reader accepts (a 64-candidate transport is about 15 KiB). */
inline constexpr std::size_t kMaxDocumentSize = 64 * 1024;

/**
 * Parses exactly one complete element. Rejects malformed or truncated XML, several top-level
 * elements, documents over kMaxDocumentSize, and a root that is not <@p name xmlns='@p ns'>.
 */
Result<std::unique_ptr<gloox::Tag>> parse_element(std::string_view xml, std::string_view name,
                                                  std::string_view ns);

/** True when @p child is in the namespace of its parent (no xmlns of its own, or the same). */
bool in_parent_namespace(const gloox::Tag& child, std::string_view ns);

/** @brief Typed, strict access to one element's attributes. */
class Attributes {
public:
    /** Checks for duplicate attributes (not well-formed XML, which gloox tolerates). */
    static Result<Attributes> of(const gloox::Tag& tag, std::string element);

    [[nodiscard]] bool has(const std::string& name) const;
    /** A required attribute's text; an error when missing or empty. */
    [[nodiscard]] Result<std::string> text(const std::string& name) const;
    /** A required unsigned decimal in [min, max]; no sign, blanks or leading '+'. */
    [[nodiscard]] Result<std::uint32_t> number(const std::string& name, std::uint32_t min,
                                               std::uint32_t max) const;
    /** A required port, 1-65535. */
    [[nodiscard]] Result<std::uint16_t> port(const std::string& name) const;
    /** A required literal IP, returned in canonical form. */
    [[nodiscard]] Result<std::string> ip(const std::string& name) const;
    /** A required string of RFC 8445 ice-chars, @p min_length to @p max_length long. */
    [[nodiscard]] Result<std::string> ice_chars(const std::string& name, std::size_t min_length,
                                                std::size_t max_length) const;
    /** A required XML NMTOKEN-like identifier ([A-Za-z0-9._:-]), 1 to @p max_length long. */
    [[nodiscard]] Result<std::string> token(const std::string& name, std::size_t max_length) const;
    /** An error "element: attribute 'name': what". */
    [[nodiscard]] Error error(const std::string& name, const std::string& what) const;

private:
    Attributes(const gloox::Tag& tag, std::string element) : tag_(tag), element_(std::move(element)) {}
    const gloox::Tag& tag_;
    std::string element_;
};

/** True for a valid JID (RFC 7622, via gloox's stringprep). */
bool valid_jid(const std::string& jid);

/** True for a literal IP or an RFC 1123 host name. */
bool valid_host(const std::string& host);

} // namespace jgather::detail
