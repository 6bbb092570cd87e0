// jgather-send: offers a file to a peer over Jingle (XEP-0234) with jgather's SOCKS5 candidates
// (XEP-0260): direct, assisted and the server's proxies. See transfer.cpp.
#include "cli.hpp"
#include "transfer.hpp"

int main(int argc, char** argv) {
    cli::program = "jgather-send";
    return transfer::run(transfer::parse_args(transfer::Role::Send, argc, argv));
}
