#include "xmpp_servers.hpp"
#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "netns.hpp"
#include "socket_address.hpp"

namespace jgather::test {
namespace {

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void must(int status, const std::string& what) {
    if (status != 0) {
        throw std::runtime_error(what + " failed with status " + std::to_string(status));
    }
}

// Spawns @p argv in @p dir with @p env added, output appended to @p log; returns the PID.
// The server gets SIGKILL if the test process dies first (a crash must not leave it behind).
pid_t spawn_server(const std::vector<std::string>& argv, const std::string& dir,
                   const std::vector<std::string>& env, const std::string& log) {
    std::vector<std::string> environment = env;
    for (char** e = environ; *e; ++e) {
        environment.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (auto& e : environment) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) { // only async-signal-safe calls until exec
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        if (chdir(dir.c_str()) != 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
            dup2(out, STDERR_FILENO) < 0) {
            _exit(127);
        }
        execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(out);
    close(in);
    if (pid < 0) {
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(errno));
    }
    return pid;
}

} // namespace

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "jgather-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

namespace {

// The port the OS picks for a socket of @p type bound to ip:0.
std::uint16_t free_port(const std::string& ip, int type) {
    std::uint16_t port = 0;
    close(bound_socket(ip, type, port));
    return port;
}

} // namespace

std::uint16_t free_tcp_port(const std::string& ip) {
    return free_port(ip, SOCK_STREAM);
}

std::uint16_t free_udp_port(const std::string& ip) {
    return free_port(ip, SOCK_DGRAM);
}

bool wait_for_listener(const std::string& ip, std::uint16_t port, std::chrono::milliseconds limit) {
    sockaddr_storage address{};
    const socklen_t length = make_sockaddr(ip, port, address);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool up = connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
        close(fd);
        if (up) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20)); // readiness poll
    }
    return false;
}

std::string to_string(XmppServer::Kind kind) {
    return kind == XmppServer::Kind::Prosody ? "prosody" : "ejabberd";
}

XmppServer::XmppServer(Kind kind, XmppServerOptions options)
    : kind_(kind), options_(std::move(options)) {
    if (options_.port == 0) {
        if (!options_.netns.empty()) {
            EnterNetns inside(options_.netns);
            options_.port = free_tcp_port(options_.ip);
        } else {
            options_.port = free_tcp_port(options_.ip);
        }
    }
    log_file_ = dir_.path() + "/server.log";
    make_pki();
    if (kind_ == Kind::Prosody) {
        start_prosody();
    } else {
        start_ejabberd();
    }
    // ejabberd needs about 2 s to boot (interop.md); allow plenty on a loaded CI machine.
    bool listening = false;
    if (!options_.netns.empty()) {
        EnterNetns inside(options_.netns);
        listening = wait_for_listener(options_.ip, options_.port, std::chrono::seconds(30));
    } else {
        listening = wait_for_listener(options_.ip, options_.port, std::chrono::seconds(30));
    }
    if (listening && !options_.ip6.empty()) {
        if (!options_.netns.empty()) {
            EnterNetns inside(options_.netns);
            listening = wait_for_listener(options_.ip6, options_.port, std::chrono::seconds(10));
        } else {
            listening = wait_for_listener(options_.ip6, options_.port, std::chrono::seconds(10));
        }
    }
    if (listening && options_.stun_port != 0) {
        if (!options_.netns.empty()) {
            EnterNetns inside(options_.netns);
            listening = wait_for_stun(options_.ip, options_.stun_port, std::chrono::seconds(10));
        } else {
            listening = wait_for_stun(options_.ip, options_.stun_port, std::chrono::seconds(10));
        }
    }
    if (!listening) {
        const std::string why = log();
        stop();
        throw std::runtime_error(to_string(kind_) + " did not listen on " + options_.ip + ":" +
                                 std::to_string(options_.port) + "\n" + why);
    }
    if (kind_ == Kind::Ejabberd) {
        // Users are registered by an -eval that runs once ejabberd has started; wait for it.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (read_file(dir_.path() + "/registered").empty() &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
}

XmppServer::~XmppServer() {
    stop();
}

void XmppServer::make_pki() {
    const std::string d = dir_.path();
    ca_file_ = d + "/ca.pem";
    must(
        run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                     d + "/ca.key", "-out", ca_file_, "-days", "2", "-subj", "/CN=jgather test CA"},
                    true),
        "openssl (CA)");
    must(run_command({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                      d + "/server.key", "-out", d + "/server.csr", "-subj",
                      "/CN=" + options_.domain},
                     true),
         "openssl (request)");
    write_file(d + "/ext.cnf",
               "subjectAltName=DNS:" + options_.domain + "\nbasicConstraints=CA:FALSE\n");
    must(run_command({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca_file_,
                      "-CAkey", d + "/ca.key", "-CAcreateserial", "-out", d + "/server.pem",
                      "-days", "2", "-extfile", d + "/ext.cnf"},
                     true),
         "openssl (sign)");
    write_file(d + "/combined.pem", read_file(d + "/server.pem") + read_file(d + "/server.key"));
}

void XmppServer::start_prosody() {
    const std::string d = dir_.path();
    const std::string config = d + "/prosody.cfg.lua";
    std::ostringstream cfg;
    cfg << "run_as_root = true\n"
        << "daemonize = false\n"
        << "pidfile = \"" << d << "/prosody.pid\"\n"
        << "data_path = \"" << d << "/data\"\n"
        << "log = { { levels = { min = \"info\" }, to = \"file\", filename = \"" << log_file_
        << "\" } }\n"
        << "plugin_paths = { \"/usr/lib/prosody/modules\" }\n"
        << "modules_enabled = { \"roster\"; \"saslauth\"; \"tls\"; \"disco\"; \"ping\""
        << (options_.sic ? "; \"ipcheck\"" : "")
        << (options_.extdisco_secret.empty() ? "" : "; \"external_services\"") << " }\n"
        << "modules_disabled = { \"s2s\" }\n"
        << (options_.proxy65_port == 0
                ? std::string()
                : "proxy65_ports = { " + std::to_string(options_.proxy65_port) +
                      " }\nproxy65_interfaces = { \"" + options_.ip + "\" }\n")
        << "c2s_ports = { " << options_.port << " }\n"
        << "c2s_interfaces = { \"" << options_.ip << "\""
        << (options_.ip6.empty() ? "" : "; \"" + options_.ip6 + "\"") << " }\n"
        << "s2s_ports = {}\nhttp_ports = {}\nhttps_ports = {}\n"
        << "c2s_require_encryption = true\n"
        << "authentication = \"internal_hashed\"\n";
    if (!options_.extdisco_secret.empty()) {
        cfg << "external_service_secret = \"" << options_.extdisco_secret << "\"\n"
            << "external_service_ttl = " << options_.extdisco_ttl.count() << "\n"
            << "external_services = {\n"
            << "  { type = \"stun\", transport = \"udp\", host = \"203.0.113.1\", port = 3478 };\n"
            << "  { type = \"turn\", transport = \"udp\", host = \"203.0.113.1\", port = 3478, "
               "secret = true, ttl = "
            << options_.extdisco_ttl.count() << " };\n"
            << "  { type = \"turn\", transport = \"tcp\", host = \"203.0.113.1\", port = 3478, "
               "secret = true, ttl = "
            << options_.extdisco_ttl.count() << " };\n"
            << "  { type = \"turns\", transport = \"tcp\", host = \"203.0.113.1\", port = 5349, "
               "secret = true, ttl = "
            << options_.extdisco_ttl.count() << " };\n"
            << "  { type = \"stun\", transport = \"udp\", host = \"127.0.0.1\", port = 3478 };\n"
            << "  { type = \"stun\", transport = \"udp\", host = \"localhost\", port = 3478 };\n";
        if (options_.extdisco_static_turn) {
            cfg << "  { type = \"turn\", transport = \"udp\", host = \"203.0.113.5\", port = 3478, "
                << "username = \"" << options_.extdisco_static_turn->first << "\", password = \""
                << options_.extdisco_static_turn->second << "\" };\n";
        }
        cfg << "}\n";
    }
    cfg << "ssl = { certificate = \"" << d << "/server.pem\"; key = \"" << d << "/server.key\" }\n"
        << "VirtualHost \"" << options_.domain << "\"\n";
    if (options_.proxy65_port != 0) {
        cfg << "Component \"proxy." << options_.domain << "\" \"proxy65\"\n";
        if (!options_.proxy65_address.empty()) {
            cfg << "  proxy65_address = \"" << options_.proxy65_address << "\"\n";
        }
    }
    std::filesystem::create_directory(d + "/data");
    write_file(config, cfg.str());
    for (const auto& [user, password] : options_.users) {
        must(run_command(
                 {"prosodyctl", "--config", config, "register", user, options_.domain, password},
                 true),
             "prosodyctl register");
    }
    pid_ = spawn_server(in_netns({"prosody", "--config", config, "-F"}), d, {}, log_file_);
}

void XmppServer::start_ejabberd() {
    const std::string d = dir_.path();
    std::ostringstream yml;
    yml << "hosts: [\"" << options_.domain << "\"]\n"
        << "loglevel: info\n"
        << "certfiles: [\"" << d << "/combined.pem\"]\n"
        << "listen:\n"
        << "  - port: " << options_.port << "\n"
        << "    ip: \"" << options_.ip << "\"\n"
        << "    module: ejabberd_c2s\n"
        << "    starttls_required: true\n";
    if (!options_.ip6.empty()) {
        yml << "  - port: " << options_.port << "\n"
            << "    ip: \"" << options_.ip6 << "\"\n"
            << "    module: ejabberd_c2s\n"
            << "    starttls_required: true\n";
    }
    if (options_.stun_port != 0) {
        yml << "  - port: " << options_.stun_port << "\n"
            << "    ip: \"" << options_.ip << "\"\n"
            << "    transport: udp\n"
            << "    module: ejabberd_stun\n";
    }
    yml << "auth_method: internal\n"
        << "modules:\n";
    if (!options_.extdisco_secret.empty()) {
        yml << "  mod_stun_disco:\n"
            << "    secret: \"" << options_.extdisco_secret << "\"\n"
            << "    credentials_lifetime: " << options_.extdisco_ttl.count() << "\n"
            << "    offer_local_services: false\n"
            << "    access: all\n"
            << "    services:\n";
        const auto service = [&](const char* host, int port, const char* type,
                                 const char* transport, bool restricted) {
            yml << "      - host: " << host << "\n        port: " << port
                << "\n        type: " << type << "\n        transport: " << transport
                << "\n        restricted: " << (restricted ? "true" : "false") << "\n";
        };
        service("203.0.113.1", 3478, "stun", "udp", false);
        service("203.0.113.1", 3478, "turn", "udp", true);
        service("203.0.113.1", 3478, "turn", "tcp", true);
        service("203.0.113.1", 5349, "turns", "tcp", true);
        service("127.0.0.1", 3478, "stun", "udp", false);
    }
    if (options_.proxy65_port != 0) {
        yml << "  mod_proxy65:\n"
            << "    host: \"proxy." << options_.domain << "\"\n"
            << "    ip: \"" << options_.ip << "\"\n"
            << "    port: " << options_.proxy65_port << "\n";
        if (!options_.proxy65_address.empty()) {
            yml << "    hostname: \"" << options_.proxy65_address << "\"\n";
        }
    }
    yml << (options_.sic ? "  mod_sic: {}\n" : "")
        << "  mod_disco: {}\n  mod_roster: {}\n  mod_ping: {}\n";
    write_file(d + "/ejabberd.yml", yml.str());
    std::filesystem::create_directory(d + "/mnesia");
    // Users, then a marker file, once ejabberd has started (-eval runs after -s).
    std::string eval;
    for (const auto& [user, password] : options_.users) {
        eval += "ejabberd_auth:try_register(<<\"" + user + "\">>, <<\"" + options_.domain +
                "\">>, <<\"" + password + "\">>), ";
    }
    eval += "file:write_file(\"" + d + "/registered\", <<\"ok\">>).";
    // erl directly (not ejabberdctl, which switches user and hides the PID), no distribution
    // and so no epmd; erl execs beam.smp, so the PID we get is the server's.
    pid_ = spawn_server(
        in_netns({"erl", "-noinput", "-mnesia", "dir", "\"" + d + "/mnesia\"", "-s", "ejabberd",
                  "-eval", eval}),
        d,
        {"ERL_LIBS=/usr/lib/x86_64-linux-gnu", "EJABBERD_CONFIG_PATH=" + d + "/ejabberd.yml",
         "EJABBERD_LOG_PATH=" + d + "/ejabberd.log", "EJABBERD_PID_PATH=" + d + "/ejabberd.pid",
         "ERL_CRASH_DUMP=" + d + "/erl_crash.dump"},
        log_file_);
}

std::vector<std::string> XmppServer::in_netns(std::vector<std::string> argv) const {
    if (options_.netns.empty()) {
        return argv;
    }
    // `ip netns exec` enters the namespace and execs: the PID stays the server's.
    std::vector<std::string> wrapped = {"ip", "netns", "exec", options_.netns};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
}

void XmppServer::freeze() {
    if (pid_ > 0) {
        ::kill(pid_, SIGSTOP);
    }
}

void XmppServer::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::kill(pid_, SIGCONT);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
}

void XmppServer::stop() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) { // 5 s, then no more patience
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill();
}

bool wait_for_stun(const std::string& ip, std::uint16_t port, std::chrono::milliseconds limit) {
    sockaddr_storage to{};
    const socklen_t to_length = make_sockaddr(ip, port, to);
    const int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    // RFC 8489 §5: a Binding request header with the magic cookie and a fixed transaction id.
    const unsigned char request[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 'j', 'g',
                                       'a',  't',  'h',  'e',  'r',  '-',  'w',  'a',  'i', 't'};
    const auto until = std::chrono::steady_clock::now() + limit;
    bool answered = false;
    while (!answered && std::chrono::steady_clock::now() < until) {
        sendto(fd, request, sizeof request, 0, reinterpret_cast<sockaddr*>(&to), to_length);
        pollfd readable{fd, POLLIN, 0};
        if (poll(&readable, 1, 50) > 0) {
            unsigned char reply[1500];
            answered =
                recv(fd, reply, sizeof reply, 0) >= 20 && reply[0] == 0x01 && reply[1] == 0x01;
        }
    }
    close(fd);
    return answered;
}

Coturn::Coturn(const std::string& ip, std::uint16_t port, const std::string& netns,
               const std::string& turn_secret) {
    std::vector<std::string> argv;
    if (!netns.empty()) {
        argv = {"ip", "netns", "exec", netns};
    }
    for (const std::string& a :
         {std::string("turnserver"), std::string("-n"), "--listening-ip=" + ip,
          "--listening-port=" + std::to_string(port), std::string("--no-tls"),
          std::string("--no-dtls"), std::string("--no-cli"), std::string("--simple-log"),
          "--userdb=" + dir_.path() + "/turndb", std::string("--verbose"),
          "--log-file=" + dir_.path() + "/turn.log", "--pidfile=" + dir_.path() + "/turn.pid"}) {
        argv.push_back(a);
    }
    if (turn_secret.empty()) {
        argv.emplace_back("--stun-only");
    } else {
        // RFC 8656 §3: relayed addresses on the server's own address; TURN REST credentials
        // (username "expiry[:user]", password base64(HMAC-SHA1(secret, username))).
        for (const std::string& a :
             {std::string("--use-auth-secret"), "--static-auth-secret=" + turn_secret,
              std::string("--realm=example.org"), "--relay-ip=" + ip,
              std::string("--min-port=49152"), std::string("--max-port=49999"),
              std::string("--no-multicast-peers")}) {
            argv.push_back(a);
        }
    }
    pid_ = spawn_server(argv, dir_.path(), {}, dir_.path() + "/out.log");
    bool ready = false;
    if (!netns.empty()) {
        EnterNetns inside(netns);
        ready = wait_for_stun(ip, port, std::chrono::seconds(10));
    } else {
        ready = wait_for_stun(ip, port, std::chrono::seconds(10));
    }
    if (!ready) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        throw std::runtime_error("coturn did not answer on " + ip + ":" + std::to_string(port) +
                                 "\n" + read_file(dir_.path() + "/out.log"));
    }
}

Coturn::~Coturn() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

std::string Coturn::log() const {
    std::string text;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
        if (entry.path().filename().string().starts_with("turn")) {
            text += read_file(entry.path().string());
        }
    }
    return text;
}

std::string XmppServer::log() const {
    return read_file(log_file_) + read_file(dir_.path() + "/ejabberd.log");
}

LabWithProxies::LabWithProxies()
    : prosody_(XmppServer::Kind::Prosody, options(lab_, 5222, kProxyPort)),
      ejabberd_(XmppServer::Kind::Ejabberd, options(lab_, 5223, kProxyPort + 1)) {}

XmppServerOptions LabWithProxies::options(const NatLab& lab, std::uint16_t port,
                                          std::uint16_t proxy_port) {
    XmppServerOptions o;
    o.netns = lab.ns("srv");
    o.ip = "203.0.113.1";
    o.port = port;
    o.users = {{"romeo", "secret123"}, {"juliet", "secret123"}};
    o.proxy65_port = proxy_port;
    o.proxy65_address = "203.0.113.1";
    return o;
}

} // namespace jgather::test
