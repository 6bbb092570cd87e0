#include <gloox/error.h>

#include "stanza_error.hpp"

namespace jgather::detail {

// RFC 6120 §8.3.3 condition names.
std::string condition_name(::gloox::StanzaError error) {
    switch (error) {
    case ::gloox::StanzaErrorBadRequest:
        return "bad-request";
    case ::gloox::StanzaErrorConflict:
        return "conflict";
    case ::gloox::StanzaErrorFeatureNotImplemented:
        return "feature-not-implemented";
    case ::gloox::StanzaErrorForbidden:
        return "forbidden";
    case ::gloox::StanzaErrorGone:
        return "gone";
    case ::gloox::StanzaErrorInternalServerError:
        return "internal-server-error";
    case ::gloox::StanzaErrorItemNotFound:
        return "item-not-found";
    case ::gloox::StanzaErrorJidMalformed:
        return "jid-malformed";
    case ::gloox::StanzaErrorNotAcceptable:
        return "not-acceptable";
    case ::gloox::StanzaErrorNotAllowed:
        return "not-allowed";
    case ::gloox::StanzaErrorNotAuthorized:
        return "not-authorized";
    case ::gloox::StanzaErrorRecipientUnavailable:
        return "recipient-unavailable";
    case ::gloox::StanzaErrorRedirect:
        return "redirect";
    case ::gloox::StanzaErrorRegistrationRequired:
        return "registration-required";
    case ::gloox::StanzaErrorRemoteServerNotFound:
        return "remote-server-not-found";
    case ::gloox::StanzaErrorRemoteServerTimeout:
        return "remote-server-timeout";
    case ::gloox::StanzaErrorResourceConstraint:
        return "resource-constraint";
    case ::gloox::StanzaErrorServiceUnavailable:
        return "service-unavailable";
    case ::gloox::StanzaErrorUndefinedCondition:
        return "undefined-condition";
    case ::gloox::StanzaErrorUnexpectedRequest:
        return "unexpected-request";
    default:
        return "error";
    }
}

std::string describe_error(const ::gloox::Error* error) {
    if (!error) {
        return "an error without a condition";
    }
    std::string text = condition_name(error->error());
    if (!error->text().empty()) {
        text += " (\"" + error->text() + "\")";
    }
    return text;
}

} // namespace jgather::detail
