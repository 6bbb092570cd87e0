/**
 * @file sources/external.hpp
 * @brief A configured external address: the "1:1 NAT" setting.
 *
 * The user states the public IP this host is reached at (and optionally a port forwarded to the
 * SOCKS5 listener). The gatherer derives candidates from it by the same rules as for Server IP
 * Check: an ICE srflx per base of the same family (external IP + the base's own port, valid where
 * the NAT preserves ports or the ports are forwarded) ranked below STUN-verified srflx, and one
 * S5B assisted candidate.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include <jgather/address.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

/** @brief Source that reports one configured external address and finishes at once. */
class JGATHER_EXPORT ConfiguredExternalSource final : public Source {
public:
    /** Reports @p ip, with @p forwarded_port as the S5B port if set. */
    explicit ConfiguredExternalSource(IpAddress ip,
                                      std::optional<std::uint16_t> forwarded_port = std::nullopt);
    /** Parses "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 literal. */
    static Result<std::unique_ptr<ConfiguredExternalSource>> parse(std::string_view text);

    std::string name() const override;
    void start(SourceSink& sink) override;
    void stop() override;

private:
    IpAddress ip_;
    std::optional<std::uint16_t> forwarded_port_;
};

} // namespace jgather
