// Test and benchmark support: what this process holds.
#pragma once

#include <dirent.h>

namespace jgather::test {

/** The descriptors this process has open now. */
inline int open_fds() {
    int count = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir)) {
            ++count;
        }
        closedir(dir);
    }
    return count - 3; // ".", ".." and the directory's own descriptor
}

} // namespace jgather::test
