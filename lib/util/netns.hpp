// Which network namespace the calling thread is in.
#pragma once

#include <cstdint>
#include <sys/stat.h>
#include <utility>

namespace jgather::detail {

/** The calling thread's network namespace as (device, inode) of its nsfs file; (0, 0) without
 * /proc. What is learned of the network (interfaces, servers) holds for one namespace only, and
 * a thread may setns() between two gatherings. */
inline std::pair<std::uint64_t, std::uint64_t> current_netns() {
    struct stat st {};
    if (::stat("/proc/thread-self/ns/net", &st) != 0) {
        return {0, 0};
    }
    return {st.st_dev, st.st_ino};
}

} // namespace jgather::detail
