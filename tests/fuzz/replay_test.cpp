// Replays the committed fuzz corpora through the readers on every test run (any compiler).
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "fuzz/readers.hpp"

namespace fs = std::filesystem;

TEST(FuzzCorpus, EveryCommittedInputKeepsTheInvariants) {
    std::size_t files = 0;
    for (const char* reader : {"xep0176", "xep0065", "xep0260", "stun"}) {
        const fs::path dir = fs::path(JGATHER_FUZZ_CORPUS) / reader;
        ASSERT_TRUE(fs::is_directory(dir)) << dir;
        for (const auto& entry : fs::directory_iterator(dir)) {
            std::ifstream in(entry.path(), std::ios::binary);
            const std::string data((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
            EXPECT_EQ(jgather::fuzz::check_reader(
                          reader, reinterpret_cast<const std::uint8_t*>(data.data()), data.size()),
                      "")
                << entry.path();
            ++files;
        }
    }
    EXPECT_GE(files, 15U) << "the seed corpora are committed";
}
