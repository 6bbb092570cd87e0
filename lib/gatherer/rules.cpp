#include "rules.hpp"
#include <algorithm>

namespace jgather::detail {

std::uint32_t ice_type_preference(IceType type) {
    switch (type) {
    case IceType::Host:
        return kIceTypePreferenceHost;
    case IceType::Prflx:
        return kIceTypePreferencePrflx;
    case IceType::Srflx:
        return kIceTypePreferenceSrflx;
    case IceType::Relay:
        return kIceTypePreferenceRelay;
    }
    return 0;
}

std::uint32_t s5b_type_preference(S5bType type) {
    switch (type) {
    case S5bType::Direct:
        return kS5bTypePreferenceDirect;
    case S5bType::Assisted:
        return kS5bTypePreferenceAssisted;
    case S5bType::Tunnel:
        return kS5bTypePreferenceTunnel;
    case S5bType::Proxy:
        return kS5bTypePreferenceProxy;
    }
    return 0;
}

std::uint32_t ice_priority(IceType type, std::uint16_t local_preference, unsigned component) {
    const unsigned bounded_component = std::clamp(component, 1U, 256U);
    return (ice_type_preference(type) << 24) + (static_cast<std::uint32_t>(local_preference) << 8) +
           (256 - bounded_component);
}

std::uint32_t s5b_priority(S5bType type, std::uint16_t local_preference) {
    return (s5b_type_preference(type) << 16) + local_preference;
}

std::uint16_t guessed_local_preference(std::uint16_t base_local_preference,
                                       std::size_t origin_slot) {
    const unsigned rank = 65535U - base_local_preference; // 0 for the best base
    const unsigned slot = static_cast<unsigned>(std::min<std::size_t>(origin_slot, 7));
    const unsigned offset = rank * 8 + slot;
    return static_cast<std::uint16_t>(offset > 32767 ? 0 : 32767 - offset);
}

std::string FoundationTable::get(IceType type, const IpAddress& base, const std::string& server) {
    auto key = std::make_tuple(type, base, server);
    auto found = table_.find(key);
    if (found != table_.end()) {
        return found->second;
    }
    std::string foundation = prefix_ + std::to_string(table_.size() + 1);
    table_.emplace(std::move(key), foundation);
    return foundation;
}

} // namespace jgather::detail
