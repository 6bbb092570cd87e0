// The one guard at every boundary an exception must not cross: C callbacks (GLib, gloox,
// libnice) and application callbacks.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace jgather::detail {

/** Runs @p f. Returns nothing when it returned, or the message of what it threw. */
template <typename F> std::optional<std::string> contain(F&& f) noexcept {
    try {
        std::forward<F>(f)();
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string(e.what());
    } catch (...) {
        return std::string("a non-standard exception");
    }
}

} // namespace jgather::detail
