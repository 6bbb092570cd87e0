// The candidate rules the gatherer applies: priorities and foundations, each with its clause.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>

namespace jgather::detail {

/** RFC 8445 §5.1.2.2 recommended type preferences. */
inline constexpr std::uint32_t kIceTypePreferenceHost = 126;
inline constexpr std::uint32_t kIceTypePreferencePrflx = 110;
inline constexpr std::uint32_t kIceTypePreferenceSrflx = 100;
inline constexpr std::uint32_t kIceTypePreferenceRelay = 0;

/** XEP-0260 §2.2 type preferences. */
inline constexpr std::uint32_t kS5bTypePreferenceDirect = 126;
inline constexpr std::uint32_t kS5bTypePreferenceAssisted = 120;
inline constexpr std::uint32_t kS5bTypePreferenceTunnel = 110;
inline constexpr std::uint32_t kS5bTypePreferenceProxy = 10;

std::uint32_t ice_type_preference(IceType type);
std::uint32_t s5b_type_preference(S5bType type);

/** RFC 8445 §5.1.2.1: 2^24·type_pref + 2^8·local_pref + (256 − component). */
std::uint32_t ice_priority(IceType type, std::uint16_t local_preference, unsigned component);

/** XEP-0260 §2.2: 2^16·type_pref + local_pref. */
std::uint32_t s5b_priority(S5bType type, std::uint16_t local_preference);

/**
 * Local preference of a srflx derived from a learned external address (SIC, configuration)
 * rather than verified by STUN. RFC 8445 §5.1.2.2 makes the type preference equal for every
 * srflx, so the guess ranks below every verified srflx through the local preference: verified
 * candidates use the base's preference (upper half, 32768-65535), guesses the lower half, still
 * ordered by base and then by which external address produced them.
 */
std::uint16_t guessed_local_preference(std::uint16_t base_local_preference,
                                       std::size_t origin_slot);

/**
 * RFC 8445 §5.1.1.3: the same foundation for candidates that share type, base IP, the server
 * that taught them, and transport protocol; different otherwise. Foundations are short decimal
 * strings (valid ice-chars, 1-32 long), stable within one gathering.
 */
class FoundationTable {
public:
    /** Foundations are @p prefix followed by a decimal number. */
    explicit FoundationTable(std::string prefix = "") : prefix_(std::move(prefix)) {}
    std::string get(IceType type, const IpAddress& base, const std::string& server);

private:
    std::string prefix_;
    std::map<std::tuple<IceType, IpAddress, std::string>, std::string> table_;
};

} // namespace jgather::detail
