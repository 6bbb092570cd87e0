#include <charconv>

#include <jgather/sources/external.hpp>

namespace jgather {

ConfiguredExternalSource::ConfiguredExternalSource(IpAddress ip,
                                                   std::optional<std::uint16_t> forwarded_port)
    : ip_(ip.unmapped()), forwarded_port_(forwarded_port) {}

Result<std::unique_ptr<ConfiguredExternalSource>>
ConfiguredExternalSource::parse(std::string_view text) {
    std::string_view host = text;
    std::optional<std::uint16_t> port;
    const auto split_port = [&](std::string_view digits) -> Result<void> {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (ec != std::errc() || end != digits.data() + digits.size() || value < 1 ||
            value > 65535) {
            return Error{"external address '" + std::string(text) + "': port '" +
                         std::string(digits) + "' is not in 1-65535"};
        }
        port = static_cast<std::uint16_t>(value);
        return {};
    };
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return Error{"external address '" + std::string(text) + "': expected [IPv6]:PORT"};
        }
        host = text.substr(1, close - 1);
        if (auto ok = split_port(text.substr(close + 2)); !ok) {
            return ok.error();
        }
    } else if (text.find(':') != std::string_view::npos &&
               text.find(':') == text.rfind(':')) { // one colon: IPv4:PORT
        host = text.substr(0, text.find(':'));
        if (auto ok = split_port(text.substr(text.find(':') + 1)); !ok) {
            return ok.error();
        }
    }
    auto ip = IpAddress::parse(host);
    if (!ip) {
        return Error{"external address: " + ip.error().message};
    }
    return std::make_unique<ConfiguredExternalSource>(*ip, port);
}

std::string ConfiguredExternalSource::name() const {
    return "config";
}

void ConfiguredExternalSource::start(SourceSink& sink) {
    sink.add_external_address({ip_, std::nullopt, forwarded_port_, {"config", "external address"}});
    sink.finish(SourceStatus::ok());
}

void ConfiguredExternalSource::stop() {}

} // namespace jgather
