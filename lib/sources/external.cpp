#include <jgather/sources/external.hpp>

namespace jgather {

ConfiguredExternalSource::ConfiguredExternalSource(IpAddress ip,
                                                   std::optional<std::uint16_t> forwarded_port)
    : ip_(ip.unmapped()), forwarded_port_(forwarded_port) {}

Result<std::unique_ptr<ConfiguredExternalSource>>
ConfiguredExternalSource::parse(std::string_view text) {
    auto parsed = TransportAddress::parse(text);
    if (!parsed) {
        return Error{"external address " + parsed.error().message};
    }
    if (auto problem = external_address_problem(parsed->ip)) {
        return Error{"external address '" + std::string(text) + "': " + *problem +
                     ", which cannot be an external address"};
    }
    std::optional<std::uint16_t> port;
    if (parsed->port != 0) {
        port = parsed->port;
    }
    return std::make_unique<ConfiguredExternalSource>(parsed->ip, port);
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
