// Test support: one example program (jgather-call, jgather-send, ...) run in a lab namespace,
// its stdout and stderr in files, and the fields of its JSON report.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace jgather::test {

/** The whole of the file at @p path ("" when it cannot be read). */
inline std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/** The program named by environment variable @p variable (meson sets it), else @p fallback. */
inline std::string program_path(const char* variable, const std::string& fallback) {
    const char* path = std::getenv(variable);
    return path ? path : fallback;
}

/**
 * @brief A program run in network namespace @p netns, bounded by `timeout 60`; stdout and
 * stderr go to DIR/TAG.out and DIR/TAG.err. Destroying it ends the process (SIGTERM) and waits.
 */
class LabProcess {
public:
    LabProcess(const std::string& netns, const std::string& program, std::vector<std::string> args,
               const std::string& dir, const std::string& tag, int timeout_seconds = 60)
        : out_(dir + "/" + tag + ".out"), err_(dir + "/" + tag + ".err") {
        std::vector<std::string> argv = {
            "timeout", std::to_string(timeout_seconds), "ip", "netns", "exec", netns, program};
        argv.insert(argv.end(), args.begin(), args.end());
        // Emptied here, before the fork: wait_for() must never read what an earlier process with
        // the same tag wrote (a child that truncates its own files may not have run yet).
        const int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out, 1); // the copies 1 and 2 are not close-on-exec
            dup2(err, 2);
            std::vector<char*> c_argv;
            for (auto& a : argv) {
                c_argv.push_back(a.data());
            }
            c_argv.push_back(nullptr);
            execvp(c_argv[0], c_argv.data());
            _exit(127);
        }
        close(out);
        close(err);
    }
    ~LabProcess() {
        if (pid_ > 0 && !waited_) {
            kill(pid_, SIGTERM);
            wait();
        }
    }
    LabProcess(const LabProcess&) = delete;
    LabProcess& operator=(const LabProcess&) = delete;

    /** Waits for the process to end (bounded by its timeout); its exit status, -1 if killed. */
    int wait() {
        int status = 0;
        waitpid(pid_, &status, 0);
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    /** Waits until stderr contains @p text: the process is ready for what comes next. */
    bool wait_for(const std::string& text, std::chrono::milliseconds limit) const {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (read_text(err_).find(text) != std::string::npos) {
                return true;
            }
            usleep(10000); // polling a file: there is nothing to block on
        }
        return false;
    }
    [[nodiscard]] std::string out() const { return read_text(out_); }
    [[nodiscard]] std::string err() const { return read_text(err_); }

private:
    std::string out_;
    std::string err_;
    pid_t pid_ = -1;
    bool waited_ = false;
};

/** The value after `"key": ` in @p json from @p from on: a string's contents or a number's
 * text ("" when absent). (Not std::regex: GCC 12 warns inside it under -fsanitize.) */
inline std::string json_field(const std::string& json, const std::string& key,
                              std::size_t from = 0) {
    const std::string marker = "\"" + key + "\": ";
    const auto at = json.find(marker, from);
    if (at == std::string::npos) {
        return "";
    }
    auto begin = at + marker.size();
    if (json[begin] == '"') {
        ++begin;
        return json.substr(begin, json.find('"', begin) - begin);
    }
    return json.substr(begin, json.find_first_of(",}\n", begin) - begin);
}

} // namespace jgather::test
