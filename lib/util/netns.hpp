// Which network namespace the calling thread is in.
#pragma once

#include <cstdint>
#include <sys/stat.h>
#include <utility>

namespace jgather::detail {

/** The calling thread's network namespace as (device, inode) of its nsfs file; (0, 0) without
 * /proc. What is learned of the network (interfaces, servers) holds for one namespace only, and
 * a thread may setns() between two gatherings. */
using Netns = std::pair<std::uint64_t, std::uint64_t>;

inline Netns current_netns() {
    struct stat st {};
    if (::stat("/proc/thread-self/ns/net", &st) != 0) {
        return {0, 0};
    }
    return {st.st_dev, st.st_ino};
}

/**
 * @brief What the library's own SourceSink adds for the library's own sources: the gathering's
 * network namespace, read once per gathering (a stat of /proc/thread-self/ns/net is a path walk
 * through procfs: a few microseconds, paid once rather than by every source and the monitor).
 * A source given another sink reads current_netns() itself.
 */
class GatheringNetns {
public:
    /** The namespace the gathering runs in (the calling thread's at gather()). */
    [[nodiscard]] virtual Netns netns() const = 0;

protected:
    ~GatheringNetns() = default;
};

/** The gathering's namespace as @p sink knows it, or the calling thread's. */
template <typename Sink> Netns netns_of(const Sink& sink) {
    const auto* known = dynamic_cast<const GatheringNetns*>(&sink);
    return known ? known->netns() : current_netns();
}

} // namespace jgather::detail
