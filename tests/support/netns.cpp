#include "netns.hpp"
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

extern char** environ;

namespace jgather::test {
namespace {

std::string joined(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) {
        text += (text.empty() ? "" : " ") + a;
    }
    return text;
}

pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, bool quiet = false) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdout_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    }
    if (quiet) {
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

int run_command(const std::vector<std::string>& argv, bool quiet) {
    const pid_t pid = spawn(argv, -1, quiet);
    return pid < 0 ? 127 : wait_for(pid);
}

std::string capture_command(const std::vector<std::string>& argv, int* status) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    }
    const pid_t pid = spawn(argv, pipe_fds[1]);
    close(pipe_fds[1]);
    std::string out;
    char buffer[4096];
    ssize_t got = 0;
    while ((got = read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR)) {
        if (got > 0) {
            out.append(buffer, static_cast<std::size_t>(got));
        }
    }
    close(pipe_fds[0]);
    const int rc = pid < 0 ? 127 : wait_for(pid);
    if (status) {
        *status = rc;
    }
    return out;
}

Netns::Netns(const std::string& tag) : name_("jgt-" + tag + "-" + std::to_string(getpid())) {
    if (run_command({"ip", "netns", "add", name_}) != 0) {
        throw std::runtime_error("'ip netns add " + name_ + "' failed (root is required)");
    }
}

Netns::~Netns() {
    run_command({"ip", "netns", "del", name_});
}

void Netns::ip(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip", "-n", name_};
    argv.insert(argv.end(), args.begin(), args.end());
    if (run_command(argv) != 0) {
        throw std::runtime_error("failed: " + joined(argv));
    }
}

EnterNetns::EnterNetns(const Netns& netns) : EnterNetns(netns.name()) {}

EnterNetns::EnterNetns(const std::string& name) {
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        const std::string why = std::strerror(errno);
        if (target >= 0) {
            close(target);
        }
        throw std::runtime_error("cannot enter " + name + ": " + why);
    }
    close(target);
}

NatLab::NatLab() : prefix_("jgl" + std::to_string(getpid())) {
    const char* source = std::getenv("JGATHER_SOURCE_DIR");
    const std::string script = std::string(source ? source : ".") + "/scripts/lab.sh";
    if (run_command({"bash", script, "up", prefix_}, true) != 0) {
        throw std::runtime_error("'" + script + " up " + prefix_ + "' failed (root is required)");
    }
}

NatLab::~NatLab() {
    const char* source = std::getenv("JGATHER_SOURCE_DIR");
    run_command({"bash", std::string(source ? source : ".") + "/scripts/lab.sh", "down", prefix_});
}

EnterNetns::~EnterNetns() {
    if (original_ >= 0) {
        setns(original_, CLONE_NEWNET);
        close(original_);
    }
}

ForwardedPort::ForwardedPort(std::string nat, std::string client_ip, std::uint16_t port)
    : nat_(std::move(nat)) {
    const std::string p = std::to_string(port);
    dnat_ = {"-t",
             "nat",
             "PREROUTING",
             "-i",
             "wan0",
             "-p",
             "tcp",
             "--dport",
             p,
             "-j",
             "DNAT",
             "--to-destination",
             client_ip + ":" + p};
    forward_ = {"FORWARD", "-i",      "wan0",    "-o", "lan0", "-p",    "tcp",
                "-d",      client_ip, "--dport", p,    "-j",   "ACCEPT"};
    ok_ = iptables("-I", dnat_) == 0 && iptables("-I", forward_) == 0;
}

ForwardedPort::~ForwardedPort() {
    (void)iptables("-D", dnat_);
    (void)iptables("-D", forward_);
}

int ForwardedPort::iptables(const char* op, std::vector<std::string> rule) const {
    std::vector<std::string> argv = {"ip", "netns", "exec", nat_, "iptables"};
    if (rule[0] == "-t") { // the table goes before the operation
        argv.insert(argv.end(), {rule[0], rule[1]});
        rule.erase(rule.begin(), rule.begin() + 2);
    }
    argv.push_back(op);
    argv.insert(argv.end(), rule.begin(), rule.end());
    return run_command(argv, std::string(op) == "-D");
}

} // namespace jgather::test
