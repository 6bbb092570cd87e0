// libFuzzer entry point; JGATHER_FUZZ_READER names the reader (xep0176, xep0065, xep0260, stun).
#include <cstdio>
#include <cstdlib>

#include "fuzz/readers.hpp"

#define JGATHER_STRINGIFY2(x) #x
#define JGATHER_STRINGIFY(x) JGATHER_STRINGIFY2(x)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string broken =
        jgather::fuzz::check_reader(JGATHER_STRINGIFY(JGATHER_FUZZ_READER), data, size);
    if (!broken.empty()) {
        std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
        std::abort();
    }
    return 0;
}
