#include "io.hpp"
#include <cerrno>
#include <sys/socket.h>

namespace jgather::detail::socks5 {

ReadState read_message(int fd, std::string& buffer,
                       const std::function<std::size_t(std::string_view)>& length) {
    for (;;) {
        const std::size_t wanted = length(buffer);
        if (buffer.size() >= wanted) {
            return ReadState::Complete;
        }
        const std::size_t have = buffer.size();
        buffer.resize(wanted);
        const ssize_t got = ::recv(fd, buffer.data() + have, wanted - have, 0);
        buffer.resize(have + (got > 0 ? static_cast<std::size_t>(got) : 0));
        if (got == 0) {
            return ReadState::Closed;
        }
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? ReadState::Pending : ReadState::Error;
        }
    }
}

bool write_message(int fd, std::string_view message) {
    for (;;) {
        const ssize_t sent = ::send(fd, message.data(), message.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent >= 0 && static_cast<std::size_t>(sent) != message.size()) {
            errno = EMSGSIZE;
            return false;
        }
        return sent >= 0;
    }
}

} // namespace jgather::detail::socks5
