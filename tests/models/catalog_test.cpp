// The catalog and the resolution of pull requests.
#include "labhouse/models/catalog.h"

#include <gtest/gtest.h>

#include <set>

namespace labhouse::models {
namespace {

std::vector<std::string> Paths(const ModelSpec& spec) {
    std::vector<std::string> paths;
    for (const auto& file : spec.files) paths.push_back(file.path);
    return paths;
}

TEST(ModelCatalogTest, SdxlTurboDefaultsToFp16WithItsTokenizer) {
    auto spec = ResolvePullRequest({"sdxl-turbo", "", {}, "main"});
    ASSERT_TRUE(spec.has_value()) << spec.error().message;
    EXPECT_EQ(spec->repo, "stabilityai/sdxl-turbo");
    EXPECT_EQ(spec->dtype, "fp16");
    EXPECT_EQ(Paths(*spec), (std::vector<std::string>{"sd_xl_turbo_1.0_fp16.safetensors", "tokenizer/vocab.json",
                                                      "tokenizer/merges.txt"}));
    EXPECT_EQ(spec->install_dir, "sdxl-turbo");
}

TEST(ModelCatalogTest, DtypeSwitchPicksTheFp32File) {
    auto spec = ResolvePullRequest({"sdxl-turbo", "fp32", {}, "main"});
    ASSERT_TRUE(spec.has_value());
    EXPECT_EQ(spec->files[0].path, "sd_xl_turbo_1.0.safetensors");
    EXPECT_EQ(spec->dtype, "fp32");
}

TEST(ModelCatalogTest, SdxlBasePinsTheCitedSizeAndHash) {
    auto spec = ResolvePullRequest({"sdxl-base-1.0", "fp16", {}, "main"});
    ASSERT_TRUE(spec.has_value());
    EXPECT_EQ(spec->repo, "stabilityai/stable-diffusion-xl-base-1.0");
    EXPECT_EQ(spec->files[0].path, "sd_xl_base_1.0.safetensors");
    EXPECT_EQ(spec->files[0].size, 6'938'078'334);
    EXPECT_EQ(spec->files[0].sha256, "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b");
}

TEST(ModelCatalogTest, DtypeIndependentModelsAcceptEitherDtype) {
    for (const std::string dtype : {"", "fp16", "fp32"}) {
        auto spec = ResolvePullRequest({"taesdxl", dtype, {}, "main"});
        ASSERT_TRUE(spec.has_value()) << dtype;
        EXPECT_EQ(spec->dtype, "any");
    }
    auto tokenizer = ResolvePullRequest({"clip-tokenizer", "", {}, "main"});
    ASSERT_TRUE(tokenizer.has_value());
    EXPECT_EQ(tokenizer->repo, "openai/clip-vit-large-patch14");
    EXPECT_EQ(tokenizer->install_dir, "tokenizer");  // where the engine looks in LABHOUSE_MODELS_DIR
    EXPECT_EQ(Paths(*tokenizer), (std::vector<std::string>{"vocab.json", "merges.txt"}));
    EXPECT_TRUE(ResolvePullRequest({"sdxl-vae-fp16-fix", "", {}, "main"}).has_value());
}

TEST(ModelCatalogTest, EveryPinnedHashIsLowercaseHexAndEveryPathIsSafe) {
    std::set<std::string> names;
    for (const auto& entry : Catalog()) {
        EXPECT_TRUE(names.insert(entry.name).second) << "duplicate " << entry.name;
        EXPECT_TRUE(IsSafeRelativePath(entry.install_dir)) << entry.name;
        for (const auto& variant : entry.variants) {
            EXPECT_FALSE(variant.files.empty()) << entry.name;
            for (const auto& file : variant.files) {
                EXPECT_TRUE(IsSafeRelativePath(file.path)) << file.path;
                if (file.sha256.empty()) continue;
                EXPECT_EQ(file.sha256.size(), 64u) << file.path;
                EXPECT_EQ(file.sha256.find_first_not_of("0123456789abcdef"), std::string::npos) << file.path;
            }
        }
    }
}

TEST(ModelCatalogTest, UnknownNameListsTheCatalog) {
    auto spec = ResolvePullRequest({"sdxl-turbbo", "", {}, "main"});
    ASSERT_FALSE(spec.has_value());
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(spec.error().message.find("sdxl-turbo"), std::string::npos) << spec.error().message;
}

TEST(ModelCatalogTest, RepoIdNeedsFilesAndCatalogNamesRefuseThem) {
    auto no_files = ResolvePullRequest({"acme/model", "", {}, "main"});
    ASSERT_FALSE(no_files.has_value());
    EXPECT_NE(no_files.error().message.find("--file"), std::string::npos);

    auto with_files = ResolvePullRequest({"sdxl-turbo", "", {"x.bin"}, "main"});
    ASSERT_FALSE(with_files.has_value());

    auto custom = ResolvePullRequest({"acme/model", "fp32", {"a/b.safetensors"}, "v1.0"});
    ASSERT_TRUE(custom.has_value()) << custom.error().message;
    EXPECT_EQ(custom->install_dir, "acme--model");
    EXPECT_EQ(custom->revision, "v1.0");
    EXPECT_EQ(custom->dtype, "fp32");
}

TEST(ModelCatalogTest, PathsThatCouldEscapeTheModelsDirAreRejected) {
    for (const std::string bad : {"../etc/passwd", "/abs", "a//b", "a/./b", "a/../../b", "a\\b", ""}) {
        EXPECT_FALSE(IsSafeRelativePath(bad)) << bad;
        EXPECT_FALSE(ResolvePullRequest({"acme/model", "", {bad}, "main"}).has_value()) << bad;
    }
    EXPECT_TRUE(IsSafeRelativePath("unet/diffusion_pytorch_model.safetensors"));
    EXPECT_FALSE(ResolvePullRequest({"../x", "", {"a"}, "main"}).has_value());
    EXPECT_FALSE(ResolvePullRequest({"acme/..", "", {"a"}, "main"}).has_value());
    EXPECT_FALSE(ResolvePullRequest({"acme/model", "", {"a"}, "../main"}).has_value());
}

TEST(ModelCatalogTest, BadDtypeIsRejected) {
    auto spec = ResolvePullRequest({"sdxl-turbo", "int8", {}, "main"});
    ASSERT_FALSE(spec.has_value());
    EXPECT_NE(spec.error().message.find("fp16 or fp32"), std::string::npos);
}

TEST(ModelCatalogTest, PullCommandIsWhatUsersType) {
    EXPECT_EQ(PullCommandFor("sdxl-turbo"), "labhouse models pull sdxl-turbo");
    EXPECT_EQ(PullCommandFor("sdxl-turbo", "fp32"), "labhouse models pull sdxl-turbo --dtype fp32");
    EXPECT_EQ(PullCommandFor("taesdxl", "any"), "labhouse models pull taesdxl");
}

}  // namespace
}  // namespace labhouse::models
