// The engine's CLI hooks end to end on the tiny model, through a CLI11 app built like main's.
#include "labhouse/engine/cli/engine_commands.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "labhouse/engine/taesd_architecture.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

int RunCli(const std::vector<std::string>& args) {
    CLI::App app{"labhouse"};
    AddTransformCommand(app);
    CLI::App* models = app.add_subcommand("models", "Model files");
    AddMakeTinyCommand(*models);
    std::vector<const char*> argv = {"labhouse"};
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
        return 0;
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
}

TEST(EngineCliTest, MakeTinyThenTransform) {
    TempDir dir("cli");
    const std::string models = dir.File("models");
    ASSERT_EQ(RunCli({"models", "make-tiny", "--out", models}), 0);
    const std::string model = models + "/tiny-sdxl.safetensors";
    ASSERT_TRUE(std::filesystem::exists(model));
    ASSERT_TRUE(std::filesystem::exists(models + "/vocab.json"));
    cv::Mat input(80, 72, CV_8UC3, cv::Scalar(30, 120, 220));
    ASSERT_TRUE(cv::imwrite(dir.File("in.png"), input));
    const std::string out = dir.File("out.png");
    ASSERT_EQ(RunCli({"transform", "--model", model, "--input", dir.File("in.png"), "--prompt", "a cat", "--steps", "2",
                      "--strength", "0.5", "--seed", "7", "--size", "64x96", "--threads", "1", "--out", out}),
              0);
    cv::Mat result = cv::imread(out, cv::IMREAD_COLOR);
    ASSERT_FALSE(result.empty());
    EXPECT_EQ(result.cols, 64);
    EXPECT_EQ(result.rows, 96);
    // Without --size the input is rounded down to a multiple of 32 (72x80 -> 64x64); tokenizer found
    // through LABHOUSE_MODELS_DIR when the model sits elsewhere.
    std::filesystem::create_directories(dir.File("elsewhere"));
    std::filesystem::copy_file(model, dir.File("elsewhere/m.safetensors"));
    ::setenv("LABHOUSE_MODELS_DIR", models.c_str(), 1);
    ASSERT_EQ(RunCli({"transform", "--model", dir.File("elsewhere/m.safetensors"), "--input", dir.File("in.png"),
                      "--prompt", "a dog", "--sampler", "dpmpp_2m", "--steps", "3", "--strength", "1", "--threads", "1",
                      "--out", out, "--quiet"}),
              0);
    ::unsetenv("LABHOUSE_MODELS_DIR");
    EXPECT_EQ(cv::imread(out).cols, 64);
    // Tiled VAE: 320x256 with tiles of at most 256 px (2 columns).
    ASSERT_EQ(RunCli({"transform", "--model", model, "--input", dir.File("in.png"), "--prompt", "a cat", "--size",
                      "320x256", "--vae-tile", "256", "--threads", "1", "--quiet", "--out", out}),
              0);
    EXPECT_EQ(cv::imread(out).cols, 320);
    // The TAESDXL decoder.
    ASSERT_TRUE(WriteRandomTaesdDecoder(dir.File("taesd.safetensors"), DType::kF16, 1));
    std::filesystem::remove(out);
    ASSERT_EQ(RunCli({"transform", "--model", model, "--input", dir.File("in.png"), "--prompt", "a cat", "--size",
                      "64x96", "--taesd", dir.File("taesd.safetensors"), "--decoder", "taesd", "--threads", "1",
                      "--quiet", "--out", out}),
              0);
    EXPECT_EQ(cv::imread(out).rows, 96);
}

TEST(EngineCliTest, BadInputsExitNonZero) {
    TempDir dir("cli-bad");
    ASSERT_EQ(RunCli({"models", "make-tiny", "--out", dir.path().string()}), 0);
    const std::string model = dir.File("tiny-sdxl.safetensors");
    cv::imwrite(dir.File("in.png"), cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)));
    std::ofstream(dir.File("junk.jpg")) << "not an image";
    const std::vector<std::string> base = {"transform", "--model", model,   "--prompt",       "x",
                                           "--threads", "1",       "--out", dir.File("o.png")};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return RunCli(args);
    };
    EXPECT_NE(with({"--input", dir.File("missing.png")}), 0);
    EXPECT_NE(with({"--input", dir.File("junk.jpg")}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--size", "64by64"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--size", "50x64"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--sampler", "nope"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--vae-tile", "100"}), 0);   // not a multiple of 64 >= 256
    EXPECT_NE(with({"--input", dir.File("in.png"), "--vae-tile", "-3"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--vae-tile", "tiles"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--tokenizer", dir.File("none")}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--decoder", "taesd"}), 0);  // without --taesd
    EXPECT_NE(with({"--input", dir.File("in.png"), "--decoder", "fast"}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--taesd", dir.File("none.safetensors")}), 0);
    EXPECT_NE(with({"--input", dir.File("in.png"), "--taesd", model}), 0);  // an SDXL file is not a TAESD decoder
    EXPECT_NE(RunCli({"transform", "--model", dir.File("in.png"), "--input", dir.File("in.png"), "--prompt", "x",
                      "--out", dir.File("o.png")}),
              0);                                                        // not a safetensors file
    EXPECT_NE(RunCli({"transform", "--input", dir.File("in.png")}), 0);  // missing required options
    EXPECT_FALSE(std::filesystem::exists(dir.File("o.png")));
}

}  // namespace
}  // namespace labhouse::engine
