/**
 * @file jingle.hpp
 * @brief Adapter: jgather's XEP-0176 transport inside gloox's Jingle session manager
 *        (XEP-0166). Exposes gloox types, like gloox.hpp.
 *
 * gloox 1.0.24 has its own `Jingle::ICEUDP`, but its tag() writes `rel-port` on every candidate
 * (host ones get `rel-port='0'`) and its integer fields are not initialised. IceUdpTransport
 * replaces it: written by xep0176::write() and read by the strict xep0176 reader. Register it
 * (and a `gloox::Jingle::Content`) with the `gloox::Jingle::SessionManager` instead of ICEUDP:
 *
 * @code
 * gloox::Jingle::SessionManager sessions(&client, &handler);
 * sessions.registerPlugin(new gloox::Jingle::Content());
 * sessions.registerPlugin(new jgather::jingle::IceUdpTransport());
 * sessions.registerPlugin(new jgather::jingle::ElementPlugin(rtp_description_filter));
 * @endcode
 *
 * gloox 1.0.24 keeps a copy of every received `<jingle/>` (`Session::Jingle::embeddedTag()`)
 * that it never frees, about 1 KB per Jingle IQ; nothing here can avoid it (tests/lsan.supp).
 *
 * XEP-0260 SOCKS5 transports travel as an ElementPlugin registered with s5b_filter(): gloox's
 * JinglePluginType has room for two user plugin types only (a value above 7 is outside the
 * enum's range), so a third class would need an out-of-range type. s5b_of() reads them with the
 * strict xep0260 reader; make_content() has an overload that writes them.
 *
 * Received transports that break a rule of the reader stay in the session as a plugin whose
 * valid() is false and error() names the attribute at fault: the application answers them
 * (e.g. session-terminate with failed-transport) instead of their being dropped unseen.
 */
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <gloox/jinglecontent.h>
#include <gloox/jingleplugin.h>
#include <gloox/tag.h>

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>
#include <jgather/xep0176.hpp>
#include <jgather/xep0260.hpp>

namespace jgather::jingle {

/** The plugin type of IceUdpTransport: above gloox's PluginUser, as gloox asks, and small
 * enough to stay a value of gloox's JinglePluginType (values 0-7). */
inline constexpr int kIceUdpPluginType = gloox::Jingle::PluginUser + 1;
/** The plugin type of ElementPlugin. */
inline constexpr int kElementPluginType = gloox::Jingle::PluginUser + 2;

/** @brief An XEP-0176 `<transport/>` as a gloox Jingle plugin. */
class JGATHER_EXPORT IceUdpTransport final : public gloox::Jingle::Plugin {
public:
    /** The prototype to register; its reader applies @p options to received transports. */
    explicit IceUdpTransport(ReadOptions options = {});
    /** A transport to send. */
    explicit IceUdpTransport(xep0176::Transport transport);

    /** False when a received transport broke a reader rule (see error()). */
    [[nodiscard]] bool valid() const { return error_.empty(); }
    /** Why a received transport was refused; empty when valid. */
    [[nodiscard]] const std::string& error() const { return error_; }
    /** The transport (empty when not valid). */
    [[nodiscard]] const xep0176::Transport& transport() const { return transport_; }

    /** `content/transport[\@xmlns='urn:xmpp:jingle:transports:ice-udp:1']`. */
    const std::string& filterString() const override;
    /** The transport as written by xep0176::write(). */
    gloox::Tag* tag() const override;
    /** Reads @p tag with xep0176's reader; never NULL for a matching tag. */
    gloox::Jingle::Plugin* newInstance(const gloox::Tag* tag) const override;
    /** A copy. */
    gloox::Jingle::Plugin* clone() const override;
    /** The XEP-0176 §12.3 feature. */
    const gloox::StringList features() const override;

private:
    ReadOptions options_;
    xep0176::Transport transport_;
    std::string error_;
};

/**
 * @brief Any one element carried as it is (an XEP-0167 `<description/>`, say), for payloads
 * jgather does not interpret.
 */
class JGATHER_EXPORT ElementPlugin final : public gloox::Jingle::Plugin {
public:
    /** The prototype to register: matches @p filter (a gloox XPath such as
     * `content/description[\@xmlns='urn:xmpp:jingle:apps:rtp:1']`). */
    explicit ElementPlugin(std::string filter);
    /** An element to send, or a received one; @p element is copied. */
    ElementPlugin(std::string filter, const gloox::Tag& element);

    /** The element (NULL in a prototype). */
    [[nodiscard]] const gloox::Tag* element() const { return element_.get(); }

    /** The filter given. */
    const std::string& filterString() const override { return filter_; }
    /** A copy of the element. */
    gloox::Tag* tag() const override;
    /** Keeps a copy of @p tag. */
    gloox::Jingle::Plugin* newInstance(const gloox::Tag* tag) const override;
    /** A copy. */
    gloox::Jingle::Plugin* clone() const override;

private:
    std::string filter_;
    std::unique_ptr<gloox::Tag> element_;
};

/** The IceUdpTransport of @p content, or NULL when it carries none. */
JGATHER_EXPORT const IceUdpTransport* ice_udp_of(const gloox::Jingle::Content& content);

/**
 * A `<content/>` for session-initiate, -accept or transport-info: named @p name, created by
 * @p creator, with @p description (may be NULL; copied) and @p transport. gloox takes
 * ownership of what a Session call sends: when `sessionInitiate()`, `sessionAccept()` or
 * `transportInfo()` returns true, do not delete the result; when it returns false (the session
 * is not pending or active), gloox did not take it and the caller deletes it.
 */
JGATHER_EXPORT gloox::Jingle::Content* make_content(const std::string& name,
                                                    gloox::Jingle::Content::Creator creator,
                                                    const gloox::Tag* description,
                                                    xep0176::Transport transport);

/** The filter of the ElementPlugin prototype that receives XEP-0260 transports: register
 * `new ElementPlugin(s5b_filter())` with the session manager. */
JGATHER_EXPORT const std::string& s5b_filter();

/**
 * The XEP-0260 transport of @p content, read with xep0260::read() and @p options: nullopt when
 * the content carries none, an error naming the element or attribute at fault when it breaks a
 * reader rule (answer it, e.g. with session-terminate failed-transport).
 */
JGATHER_EXPORT std::optional<Result<xep0260::Transport>>
s5b_of(const gloox::Jingle::Content& content, const ReadOptions& options = {});

/**
 * A `<content/>` carrying an XEP-0260 @p transport (for session-initiate, -accept or
 * transport-info), with @p description (may be NULL; copied) and @p senders (XEP-0166 §7: a
 * file offer sends from the initiator). Ownership as for the XEP-0176 overload.
 */
JGATHER_EXPORT gloox::Jingle::Content*
make_content(const std::string& name, gloox::Jingle::Content::Creator creator,
             const gloox::Tag* description, const xep0260::Transport& transport,
             gloox::Jingle::Content::Senders senders = gloox::Jingle::Content::SBoth);

} // namespace jgather::jingle
