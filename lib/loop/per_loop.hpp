// One shared object per event loop (and key): what every gathering on a loop shares, created by
// the first that asks, gone with the last that holds it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include <jgather/loop.hpp>

namespace jgather::detail {

/**
 * The T shared by everyone on @p loop with @p key, made with @p make() when there is none.
 * Holders keep it alive; the registry only remembers it. A loop runs on one thread at a time,
 * but different loops may run on different threads: the registry is locked, the objects are
 * not (each is used on its loop only).
 */
template <typename T, typename Key, typename Make>
auto shared_per_loop(EventLoop& loop, const Key& key, Make&& make)
    -> decltype(make()) { // Result<std::shared_ptr<T>> or std::shared_ptr<T>
    static std::mutex mutex;
    static std::map<std::pair<const EventLoop*, Key>, std::weak_ptr<T>> registry;
    const std::lock_guard lock(mutex);
    for (auto it = registry.begin(); it != registry.end();) {
        it = it->second.expired() ? registry.erase(it) : std::next(it);
    }
    auto& slot = registry[{&loop, key}];
    if (auto existing = slot.lock()) {
        return existing;
    }
    auto made = make();
    if constexpr (requires { made.value(); }) {
        if (made) {
            slot = made.value();
        }
    } else {
        slot = made;
    }
    return made;
}

} // namespace jgather::detail
