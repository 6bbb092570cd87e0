// Reading one SOCKS5 message off a non-blocking socket, exactly, and writing a short one whole.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace jgather::detail::socks5 {

/** @brief What one read_message() call came to. */
enum class ReadState {
    Complete, // the message is whole in the buffer
    Pending,  // the socket has nothing more for now
    Closed,   // the peer closed before the message was whole
    Error,    // recv() failed (errno is set)
};

/**
 * Reads into @p buffer until it holds the whole message that @p length says it has (asked again
 * after each read, as the length may depend on bytes read), never reading past it.
 */
ReadState read_message(int fd, std::string& buffer,
                       const std::function<std::size_t(std::string_view)>& length);

/** Sends @p message whole; false (errno set, or EMSGSIZE for a short write) otherwise. A
 * handshake message is a few dozen bytes on a socket that has sent nothing yet, so a short
 * write means something is badly wrong rather than that the buffer is full. */
bool write_message(int fd, std::string_view message);

} // namespace jgather::detail::socks5
