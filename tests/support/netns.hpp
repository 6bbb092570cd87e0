// Test support: throwaway network namespaces built with iproute2, entered by the test thread.
// Everything created is deleted in the destructor; nothing in the root namespace is touched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jgather::test {

/** Runs a program (no shell) and returns its exit status; output goes to the test log, or
 * nowhere when @p quiet. */
int run_command(const std::vector<std::string>& argv, bool quiet = false);

/** Runs a program and returns what it printed on stdout (stderr goes to the test log). */
std::string capture_command(const std::vector<std::string>& argv, int* status = nullptr);

/** @brief The NAT lab of scripts/lab.sh: namespaces PREFIX-srv, -nat1, -c1, -nat2, -c2, -pub. */
class NatLab {
public:
    /** Builds it with a unique prefix; throws std::runtime_error if it cannot. */
    NatLab();
    ~NatLab();
    NatLab(const NatLab&) = delete;
    NatLab& operator=(const NatLab&) = delete;
    /** The namespace of a lab host: "srv", "nat1", "c1", "nat2", "c2", "pub". */
    [[nodiscard]] std::string ns(const std::string& host) const { return prefix_ + "-" + host; }

private:
    std::string prefix_;
};

/**
 * @brief A TCP port forwarded by a lab NAT, as a user configures it on a router: a DNAT rule on
 * the NAT's WAN side to @p client_ip:port and the FORWARD rule that lets it through. Removed
 * when destroyed (also when the test fails).
 */
class ForwardedPort {
public:
    /** Adds the rules in namespace @p nat; ok() says whether iptables took them. */
    ForwardedPort(std::string nat, std::string client_ip, std::uint16_t port);
    ~ForwardedPort();
    ForwardedPort(const ForwardedPort&) = delete;
    ForwardedPort& operator=(const ForwardedPort&) = delete;
    /** True when both rules are in place. */
    [[nodiscard]] bool ok() const { return ok_; }

private:
    int iptables(const char* op, std::vector<std::string> rule) const;
    std::string nat_;
    std::vector<std::string> dnat_;
    std::vector<std::string> forward_;
    bool ok_ = false;
};

/** @brief A named network namespace; `ip netns del` on destruction. */
class Netns {
public:
    /** Creates "jgt-<tag>-<pid>". Throws std::runtime_error if `ip netns add` fails (tests are
     * meant to run as root; CI does). */
    explicit Netns(const std::string& tag);
    ~Netns();
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }
    /** Runs `ip -n NAME args...`; throws std::runtime_error with the command on failure. */
    void ip(const std::vector<std::string>& args) const;

private:
    std::string name_;
};

/** @brief Moves the calling thread into a namespace for its lifetime, then back. */
class EnterNetns {
public:
    explicit EnterNetns(const Netns& netns);
    /** Enters the named namespace (under /run/netns). */
    explicit EnterNetns(const std::string& name);
    ~EnterNetns();
    EnterNetns(const EnterNetns&) = delete;
    EnterNetns& operator=(const EnterNetns&) = delete;

private:
    int original_ = -1;
};

} // namespace jgather::test
