// The XEP-0234 side of jgather-send and jgather-receive: the file offer's description and the
// SHA-256 it carries (XEP-0300). Not installed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <glib.h>
#include <gloox/jinglecontent.h>
#include <gloox/tag.h>

#include <jgather/result.hpp>

namespace transfer {

/** XEP-0234 §12: version 5 of the file transfer namespace. */
inline constexpr const char* kFileTransferNs = "urn:xmpp:jingle:apps:file-transfer:5";
/** XEP-0300 §2: the hashes namespace. */
inline constexpr const char* kHashesNs = "urn:xmpp:hashes:2";

// SHA-256 with GLib, fed as bytes pass.
class Sha256 {
public:
    Sha256() : checksum_(g_checksum_new(G_CHECKSUM_SHA256)) {}
    ~Sha256() { g_checksum_free(checksum_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void feed(const char* data, std::size_t size) {
        g_checksum_update(checksum_, reinterpret_cast<const guchar*>(data),
                          static_cast<gssize>(size));
    }
    // The digest as lower-case hex and as base64 (XEP-0300 §2); feeding stops.
    void finish() {
        guint8 digest[32];
        gsize length = sizeof digest;
        g_checksum_get_digest(checksum_, digest, &length);
        gchar* b64 = g_base64_encode(digest, length);
        base64_ = b64;
        g_free(b64);
        static constexpr char kHex[] = "0123456789abcdef";
        for (gsize i = 0; i < length; ++i) {
            hex_ += kHex[digest[i] >> 4];
            hex_ += kHex[digest[i] & 15];
        }
    }
    [[nodiscard]] const std::string& hex() const { return hex_; }
    [[nodiscard]] const std::string& base64() const { return base64_; }

private:
    GChecksum* checksum_;
    std::string hex_;
    std::string base64_;
};

// The XEP-0234 <file/> of an offer.
struct FileOffer {
    std::string name;
    std::optional<std::uint64_t> size;
    std::string sha256_base64; // "" = the offer names no SHA-256
};

/** The `<description/>` offering @p file. */
gloox::Tag make_description(const FileOffer& file);

/** The file description of @p content, or why it is not one (no description, no `<file/>`, a
 * size that is not a number). */
jgather::Result<FileOffer> read_description(const gloox::Jingle::Content& content);

} // namespace transfer
