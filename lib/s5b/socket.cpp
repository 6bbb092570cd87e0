#include <unistd.h>
#include <utility>

#include <jgather/s5b.hpp>

namespace jgather::s5b {

Socket::~Socket() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.release();
    }
    return *this;
}

int Socket::release() noexcept {
    return std::exchange(fd_, -1);
}

std::string_view to_string(AttemptResult result) noexcept {
    switch (result) {
    case AttemptResult::Connected:
        return "connected";
    case AttemptResult::Failed:
        return "failed";
    case AttemptResult::TimedOut:
        return "timed-out";
    case AttemptResult::Abandoned:
        return "abandoned";
    case AttemptResult::NotTried:
        return "not-tried";
    }
    return "unknown";
}

} // namespace jgather::s5b
