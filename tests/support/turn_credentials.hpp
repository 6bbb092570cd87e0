// TURN-REST credentials ("A REST API for access to TURN services", the scheme prosody's
// mod_external_services and ejabberd's mod_stun_disco hand out and coturn's use-auth-secret
// checks): username "expiry:user", password base64(HMAC-SHA1(secret, username)).
#pragma once

#include <array>
#include <ctime>
#include <string>
#include <utility>

#include <glib.h>

namespace jgather::test {

/** Credentials for @p user valid for an hour, made from the TURN server's @p secret. */
inline std::pair<std::string, std::string> turn_rest_credentials(const std::string& secret,
                                                                 const std::string& user) {
    const std::string username = std::to_string(std::time(nullptr) + 3600) + ":" + user;
    GHmac* hmac =
        g_hmac_new(G_CHECKSUM_SHA1, reinterpret_cast<const guchar*>(secret.data()), secret.size());
    g_hmac_update(hmac, reinterpret_cast<const guchar*>(username.data()),
                  static_cast<gssize>(username.size()));
    std::array<guint8, 20> digest{};
    gsize length = digest.size();
    g_hmac_get_digest(hmac, digest.data(), &length);
    g_hmac_unref(hmac);
    gchar* encoded = g_base64_encode(digest.data(), length);
    std::string password = encoded;
    g_free(encoded);
    return {username, password};
}

} // namespace jgather::test
