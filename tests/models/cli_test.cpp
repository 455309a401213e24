// `labhouse models ...` through CLI11, as main.cpp wires it, against the fake hub.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "labhouse/models/cli/models_commands.h"
#include "labhouse/models/cli/progress_bar.h"
#include "tests/models/fake_hub.h"
#include "tests/models/test_util.h"

namespace labhouse::models {
namespace {

namespace fs = std::filesystem;

// Parses argv like main() does; returns the exit code and what went to stdout.
struct CliRun {
    int code = 0;
    std::string out;
};

CliRun RunCli(std::vector<std::string> args) {
    CLI::App app{"labhouse"};
    app.require_subcommand(1);
    AddModelsCommands(app);
    std::vector<const char*> argv{"labhouse"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    std::stringstream captured;
    std::streambuf* old = std::cout.rdbuf(captured.rdbuf());
    CliRun run;
    try {
        app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    } catch (const CLI::ParseError& e) {
        std::stringstream err;
        run.code = app.exit(e, captured, err);
    }
    std::cout.rdbuf(old);
    run.out = captured.str();
    return run;
}

class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
    ~ScopedEnv() { ::unsetenv(name_); }

private:
    const char* name_;
};

TEST(ModelsCliTest, HelpListsTheSubcommands) {
    CliRun run = RunCli({"models", "--help"});
    EXPECT_EQ(run.code, 0);
    for (const char* sub : {"pull", "list", "verify", "rm"}) EXPECT_NE(run.out.find(sub), std::string::npos) << sub;
}

TEST(ModelsCliTest, UnknownOptionsAndMissingArgumentsAreErrors) {
    EXPECT_NE(RunCli({"models", "pull", "sdxl-turbo", "--bogus"}).code, 0);
    EXPECT_NE(RunCli({"models", "pull"}).code, 0);
    EXPECT_NE(RunCli({"models"}).code, 0);
    EXPECT_NE(RunCli({"models", "pull", "sdxl-turbo", "--dtype", "int8"}).code, 0);
    EXPECT_NE(RunCli({"models", "list", "--log-level", "loud"}).code, 0);
    EXPECT_NE(RunCli({"models", "--bogus", "list"}).code, 0);
    EXPECT_EQ(RunCli({"models", "list", "--available", "--log-level", "error"}).code, 0);
}

TEST(ModelsCliTest, UnknownModelExitsWithUsageError) {
    testing::TempDir dir;
    EXPECT_EQ(RunCli({"models", "pull", "no-such-model", "--dir", dir.str()}).code, 2);
}

TEST(ModelsCliTest, PullListVerifyRemoveAgainstTheFakeHub) {
    testing::FakeHub hub;
    testing::TempDir dir;
    const std::string weights = testing::TestBytes(100 * 1024, 11);
    hub.AddFile("acme/vae", "vae.safetensors", weights);
    ScopedEnv endpoint("HF_ENDPOINT", hub.endpoint() + "/");

    CliRun pull = RunCli({"models", "pull", "acme/vae", "--file", "vae.safetensors", "--dir", dir.str()});
    ASSERT_EQ(pull.code, 0) << pull.out;
    EXPECT_NE(pull.out.find(testing::Sha256HexOf(weights)), std::string::npos) << pull.out;

    {
        ScopedEnv models_dir("LABHOUSE_MODELS_DIR", dir.str());
        CliRun list = RunCli({"models", "list", "--json"});
        ASSERT_EQ(list.code, 0);
        const auto json = nlohmann::json::parse(list.out);
        ASSERT_EQ(json["models"].size(), 1u);
        EXPECT_EQ(json["models"][0]["name"], "acme/vae");
        EXPECT_EQ(json["models"][0]["size"], weights.size());
    }

    EXPECT_EQ(RunCli({"models", "verify", "acme/vae", "--dir", dir.str()}).code, 0);
    testing::WriteFile(dir.path() / "acme--vae" / "vae.safetensors", "tampered");
    EXPECT_EQ(RunCli({"models", "verify", "acme/vae", "--dir", dir.str()}).code, 1);

    // The models dir can also be given before the subcommand.
    EXPECT_EQ(RunCli({"models", "--dir", dir.str(), "rm", "acme/vae"}).code, 0);
    EXPECT_FALSE(fs::exists(dir.path() / "acme--vae"));
    EXPECT_EQ(RunCli({"models", "rm", "acme/vae", "--dir", dir.str()}).code, 1);
}

TEST(ModelsCliTest, DefaultModelsDirFollowsTheDataDirLikeServe) {
    testing::FakeHub hub;
    testing::TempDir dir;
    hub.AddFile("acme/vae", "vae.safetensors", "vae bytes");
    ScopedEnv endpoint("HF_ENDPOINT", hub.endpoint());
    ScopedEnv data_dir("LABHOUSE_DATA_DIR", dir.str());
    ASSERT_EQ(RunCli({"models", "pull", "acme/vae", "--file", "vae.safetensors"}).code, 0);
    EXPECT_EQ(testing::ReadFile(dir.path() / "models" / "acme--vae" / "vae.safetensors"), "vae bytes");
}

TEST(ModelsCliTest, AvailableListsTheCatalog) {
    CliRun run = RunCli({"models", "list", "--available", "--json"});
    ASSERT_EQ(run.code, 0);
    const auto json = nlohmann::json::parse(run.out);
    bool turbo_fp16 = false;
    for (const auto& entry : json) turbo_fp16 |= entry["name"] == "sdxl-turbo" && entry["dtype"] == "fp16";
    EXPECT_TRUE(turbo_fp16);
}

TEST(ModelsCliTest, ProgressLineShowsBytesRateAndEta) {
    PullProgress p;
    p.file = "model.safetensors";
    p.file_index = 1;
    p.file_count = 3;
    p.done = 512 << 20;
    p.total = 1024 << 20;
    p.session_bytes = 256 << 20;
    p.seconds = 16;  // 16 MiB/s over this run -> 32 s left
    const std::string line = FormatProgressLine(p, 10);
    EXPECT_EQ(line, "[1/3] model.safetensors   50% [#####     ] 512.0 MiB / 1.0 GiB  16.0 MiB/s  ETA 32s");
    p.total = -1;
    EXPECT_EQ(FormatProgressLine(p, 10), "[1/3] model.safetensors  512.0 MiB  16.0 MiB/s");
    EXPECT_EQ(FormatDuration(3725), "1h02m");
    EXPECT_EQ(FormatDuration(185), "3m05s");
}

}  // namespace
}  // namespace labhouse::models
