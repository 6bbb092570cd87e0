// jgather-receive: accepts the first file offered over Jingle (XEP-0234) and receives it over
// XEP-0260 SOCKS5 with jgather's candidates. See transfer.cpp.
#include "cli.hpp"
#include "transfer.hpp"

int main(int argc, char** argv) {
    cli::program = "jgather-receive";
    return transfer::run(transfer::parse_args(transfer::Role::Receive, argc, argv));
}
