#include <array>
#include <cctype>
#include <ctime>

#include "extdisco.hpp"
#include "xml.hpp"

namespace jgather::detail {
namespace {

enum ServiceAttribute : std::size_t {
    Type, Host, Port, Transport, Name, Username, Password, Restricted, Expires
};
constexpr std::array<std::string_view, 9> kServiceAttributes = {
    "type", "host", "port", "transport", "name", "username", "password", "restricted", "expires"};

bool digits(std::string_view text, std::size_t at, std::size_t count, int& value) {
    if (at + count > text.size()) {
        return false;
    }
    value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    return true;
}

// One service; its problem names the attribute at fault.
ExternalService read_service(const gloox::Tag& tag, std::size_t index,
                             std::chrono::system_clock::time_point now) {
    ExternalService service;
    auto attrs = Attributes::of(tag, kServiceAttributes, "service", static_cast<long>(index));
    if (!attrs) {
        service.problem = attrs.error().message;
        return service;
    }
    const auto fail = [&](std::size_t slot, const std::string& what) {
        service.problem = attrs->error(slot, what).message;
        return service;
    };
    auto type_text = attrs->text(Type);
    if (!type_text) {
        service.problem = type_text.error().message;
        return service;
    }
    const auto type = parse_service_type(*type_text);
    if (!type) {
        return fail(Type, "'" + *type_text + "' is not stun, stuns, turn or turns (XEP-0215 §4)");
    }
    service.type = *type;
    const bool tls = *type == ServiceType::Stuns || *type == ServiceType::Turns;
    auto host = attrs->text(Host);
    if (!host) {
        service.problem = host.error().message;
        return service;
    }
    service.host = *host;
    if (attrs->has(Port)) {
        auto port = attrs->port(Port);
        if (!port) {
            service.problem = port.error().message;
            return service;
        }
        service.port = *port;
    } else {
        service.port = tls ? kDefaultStunsPort : kDefaultStunPort;
    }
    service.transport = tls ? "tcp" : "udp";
    if (attrs->has(Transport)) {
        auto transport = attrs->text(Transport);
        if (!transport) {
            service.problem = transport.error().message;
            return service;
        }
        if (*transport != "udp" && *transport != "tcp") {
            return fail(Transport, "'" + *transport + "' is not udp or tcp");
        }
        service.transport = *transport;
    }
    if (attrs->has(Name)) {
        auto name = attrs->text(Name);
        service.name = name ? *name : "";
    }
    for (const auto slot : {Username, Password}) {
        if (!attrs->has(slot)) {
            continue;
        }
        auto value = attrs->text(slot);
        if (value && value->size() > kMaxCredentialLength) {
            return fail(slot, "longer than " + std::to_string(kMaxCredentialLength) +
                                  " bytes (RFC 8489 §14.3)");
        }
        (slot == Username ? service.username : service.password) = value ? *value : "";
    }
    if (attrs->has(Restricted)) {
        auto restricted = attrs->text(Restricted);
        // xs:boolean: ejabberd writes true/false, prosody 1 (interop.md).
        const std::string r = restricted ? *restricted : "";
        if (r == "1" || r == "true") {
            service.restricted = true;
        } else if (r != "0" && r != "false") {
            return fail(Restricted, "'" + r + "' is not an xs:boolean");
        }
    }
    if (attrs->has(Expires)) {
        auto text = attrs->text(Expires);
        auto expires = text ? parse_datetime(*text) : Result<std::chrono::system_clock::time_point>(
                                                          text.error());
        if (!expires) {
            return fail(Expires, expires.error().message);
        }
        if (*expires <= now) {
            return fail(Expires, "'" + *text + "' has passed: the credentials are stale");
        }
        service.expires = *expires;
    }
    if (auto problem = host_problem(service.host)) {
        return fail(Host, *problem);
    }
    if (auto literal = IpAddress::parse(service.host)) {
        const IpAddress ip = literal->unmapped();
        if (auto problem = target_problem(ip)) {
            return fail(Host, *problem);
        }
        service.host = ip.to_string();
        service.addresses.push_back(ip);
    }
    return service;
}

} // namespace

Result<std::chrono::system_clock::time_point> parse_datetime(std::string_view text) {
    const auto bad = [&] {
        return Error{"'" + std::string(text) +
                     "' is not an XEP-0082 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD)"};
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
        !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) ||
        text[10] != 'T' || !digits(text, 11, 2, hour) || text[13] != ':' ||
        !digits(text, 14, 2, minute) || text[16] != ':' || !digits(text, 17, 2, second)) {
        return bad();
    }
    std::size_t at = 19;
    if (text[at] == '.') { // fractions of a second: read, not kept
        ++at;
        const std::size_t first = at;
        while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
            ++at;
        }
        if (at == first) {
            return bad();
        }
    }
    int offset_minutes = 0;
    if (at < text.size() && text[at] == 'Z' && at + 1 == text.size()) {
        // UTC
    } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') &&
               text[at + 3] == ':') {
        int oh = 0, om = 0;
        if (!digits(text, at + 1, 2, oh) || !digits(text, at + 4, 2, om) || oh > 23 || om > 59) {
            return bad();
        }
        offset_minutes = (text[at] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return bad();
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60) {
        return bad();
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t utc = timegm(&tm);
    return std::chrono::system_clock::from_time_t(utc) - std::chrono::minutes(offset_minutes);
}

std::optional<std::string> target_problem(const IpAddress& ip) {
    if (auto problem = external_address_problem(ip)) {
        return *problem + ": a server may announce only services reachable from the outside";
    }
    return std::nullopt;
}

Result<std::vector<ExternalService>> read_services(const gloox::Tag& element,
                                                   std::chrono::system_clock::time_point now) {
    std::vector<ExternalService> services;
    for (const gloox::Tag* child : element.children()) {
        if (child->name() != "service" || !in_parent_namespace(*child, element.xmlns())) {
            continue;
        }
        if (services.size() == kMaxServices) {
            return Error{element.name() + ": more than " + std::to_string(kMaxServices) +
                         " services"};
        }
        services.push_back(read_service(*child, services.size(), now));
    }
    return services;
}

} // namespace jgather::detail
