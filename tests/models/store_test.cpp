// list / verify / rm on a models dir filled by real pulls from the fake hub.
#include <gtest/gtest.h>

#include <filesystem>

#include "labhouse/models/manifest.h"
#include "labhouse/models/model_store.h"
#include "labhouse/models/pull.h"
#include "tests/models/fake_hub.h"
#include "tests/models/test_util.h"

namespace labhouse::models {
namespace {

namespace fs = std::filesystem;
using testing::FakeHub;
using testing::TempDir;

class ModelStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        fp16_ = testing::TestBytes(200 * 1024, 1);
        fp32_ = testing::TestBytes(400 * 1024, 2);
        hub_.AddFile("stabilityai/sdxl-turbo", "sd_xl_turbo_1.0_fp16.safetensors", fp16_);
        hub_.AddFile("stabilityai/sdxl-turbo", "sd_xl_turbo_1.0.safetensors", fp32_);
        hub_.AddFile("stabilityai/sdxl-turbo", "tokenizer/vocab.json", R"({"a</w>": 1})", false);
        hub_.AddFile("stabilityai/sdxl-turbo", "tokenizer/merges.txt", "#version: 0.2\na b\n", false);
        options_.models_dir = dir_.str();
        options_.retry_backoff = std::chrono::milliseconds(1);
    }

    void Pull(const std::string& dtype) {
        HubConfig config;
        config.endpoint = hub_.endpoint();
        auto spec = ResolvePullRequest({"sdxl-turbo", dtype, {}, "main"});
        ASSERT_TRUE(spec.has_value()) << spec.error().message;
        auto model = PullModel(*spec, HubClient(config), options_);
        ASSERT_TRUE(model.has_value()) << model.error().message;
    }

    fs::path ModelDir() const { return dir_.path() / "sdxl-turbo"; }

    TempDir dir_;
    FakeHub hub_;
    PullOptions options_;
    std::string fp16_;
    std::string fp32_;
};

TEST_F(ModelStoreTest, EmptyDirListsNothing) {
    auto models = ListInstalled(dir_.str());
    ASSERT_TRUE(models.has_value());
    EXPECT_TRUE(models->empty());
    auto missing_dir = ListInstalled((dir_.path() / "nope").string());
    ASSERT_TRUE(missing_dir.has_value());
    EXPECT_TRUE(missing_dir->empty());
}

TEST_F(ModelStoreTest, ListShowsEachInstalledVariantWithSizesHashesAndBackends) {
    Pull("fp16");
    Pull("fp32");
    auto models = ListInstalled(dir_.str());
    ASSERT_TRUE(models.has_value()) << models.error().message;
    ASSERT_EQ(models->size(), 2u);
    EXPECT_EQ((*models)[0].name, "sdxl-turbo");
    EXPECT_EQ((*models)[0].dtype, "fp16");
    EXPECT_EQ((*models)[1].dtype, "fp32");
    EXPECT_EQ((*models)[0].files[0].path, "sd_xl_turbo_1.0_fp16.safetensors");
    EXPECT_EQ((*models)[0].files[0].sha256, testing::Sha256HexOf(fp16_));
    EXPECT_EQ((*models)[0].backends, std::vector<std::string>{"sdxl"});
    EXPECT_EQ((*models)[0].dir, ModelDir().string());
    EXPECT_GT((*models)[0].installed_at_ms, 0);
}

TEST_F(ModelStoreTest, VerifyPassesOnIntactFiles) {
    Pull("fp16");
    auto reports = VerifyInstalled(dir_.str(), "sdxl-turbo");
    ASSERT_TRUE(reports.has_value()) << reports.error().message;
    ASSERT_EQ(reports->size(), 1u);
    EXPECT_TRUE((*reports)[0].ok());
    EXPECT_EQ((*reports)[0].files.size(), 3u);
}

TEST_F(ModelStoreTest, VerifyFindsAFlippedByteAndAMissingFile) {
    Pull("fp16");
    std::string damaged = fp16_;
    damaged[1000] ^= 1;
    testing::WriteFile(ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors", damaged);
    fs::remove(ModelDir() / "tokenizer" / "merges.txt");

    auto reports = VerifyInstalled(dir_.str(), "sdxl-turbo", "fp16");
    ASSERT_TRUE(reports.has_value()) << reports.error().message;
    const VerifyReport& report = (*reports)[0];
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.files[0].problem, "checksum");
    EXPECT_EQ(report.files[0].actual_sha256, testing::Sha256HexOf(damaged));
    EXPECT_EQ(report.files[1].problem, "");
    EXPECT_EQ(report.files[2].problem, "missing");
}

TEST_F(ModelStoreTest, VerifyFindsATruncatedFile) {
    Pull("fp16");
    testing::WriteFile(ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors", fp16_.substr(0, 1000));
    auto reports = VerifyInstalled(dir_.str(), "sdxl-turbo");
    ASSERT_TRUE(reports.has_value());
    EXPECT_EQ((*reports)[0].files[0].problem, "size");
    EXPECT_EQ((*reports)[0].files[0].actual_size, 1000);
}

TEST_F(ModelStoreTest, VerifyOfSomethingNotInstalledIsNotFound) {
    Pull("fp16");
    auto reports = VerifyInstalled(dir_.str(), "taesdxl");
    ASSERT_FALSE(reports.has_value());
    EXPECT_EQ(reports.error().code, ErrorCode::kNotFound);
    EXPECT_NE(reports.error().message.find("installed: sdxl-turbo (fp16)"), std::string::npos)
        << reports.error().message;
}

TEST_F(ModelStoreTest, RemoveDeletesFilesDirsAndTheEntry) {
    Pull("fp16");
    testing::WriteFile(ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors.sha256", "123:456 abc\n");  // backend cache
    auto removed = RemoveInstalled(dir_.str(), "sdxl-turbo");
    ASSERT_TRUE(removed.has_value()) << removed.error().message;
    ASSERT_EQ(removed->size(), 1u);
    EXPECT_FALSE(fs::exists(ModelDir()));
    auto models = ListInstalled(dir_.str());
    ASSERT_TRUE(models.has_value());
    EXPECT_TRUE(models->empty());
}

TEST_F(ModelStoreTest, RemovingOneVariantKeepsFilesTheOtherStillUses) {
    Pull("fp16");
    Pull("fp32");
    auto removed = RemoveInstalled(dir_.str(), "sdxl-turbo", "fp16");
    ASSERT_TRUE(removed.has_value()) << removed.error().message;
    EXPECT_FALSE(fs::exists(ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors"));
    EXPECT_TRUE(fs::exists(ModelDir() / "sd_xl_turbo_1.0.safetensors"));
    EXPECT_TRUE(fs::exists(ModelDir() / "tokenizer" / "vocab.json"));
    auto reports = VerifyInstalled(dir_.str(), "sdxl-turbo");
    ASSERT_TRUE(reports.has_value());
    ASSERT_EQ(reports->size(), 1u);
    EXPECT_EQ((*reports)[0].model.dtype, "fp32");
    EXPECT_TRUE((*reports)[0].ok());
}

TEST_F(ModelStoreTest, RemoveLeavesFilesItDidNotInstall) {
    Pull("fp16");
    testing::WriteFile(ModelDir() / "my-notes.txt", "keep me");
    ASSERT_TRUE(RemoveInstalled(dir_.str(), "sdxl-turbo").has_value());
    EXPECT_TRUE(fs::exists(ModelDir() / "my-notes.txt"));
}

TEST_F(ModelStoreTest, RemoveOfSomethingNotInstalledIsNotFound) {
    auto removed = RemoveInstalled(dir_.str(), "sdxl-turbo");
    ASSERT_FALSE(removed.has_value());
    EXPECT_EQ(removed.error().code, ErrorCode::kNotFound);
}

TEST_F(ModelStoreTest, FindInstalledFileGivesTheCheckpointOrTheCommandToGetIt) {
    auto missing = FindInstalledFile(dir_.str(), "sdxl-turbo", "fp16");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    EXPECT_NE(missing.error().message.find("run `labhouse models pull sdxl-turbo --dtype fp16`"), std::string::npos)
        << missing.error().message;

    Pull("fp32");
    Pull("fp16");
    auto fp16 = FindInstalledFile(dir_.str(), "sdxl-turbo", "fp16");
    ASSERT_TRUE(fp16.has_value()) << fp16.error().message;
    EXPECT_EQ(*fp16, (ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors").string());
    auto fp32 = FindInstalledFile(dir_.str(), "sdxl-turbo", "fp32");
    ASSERT_TRUE(fp32.has_value());
    EXPECT_EQ(*fp32, (ModelDir() / "sd_xl_turbo_1.0.safetensors").string());

    fs::remove(ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors");
    auto gone = FindInstalledFile(dir_.str(), "sdxl-turbo", "fp16");
    ASSERT_FALSE(gone.has_value());
    EXPECT_NE(gone.error().message.find("missing"), std::string::npos);
}

TEST_F(ModelStoreTest, ModelsDirCanBeMovedOrSpeltDifferently) {
    options_.models_dir = (dir_.path() / "a" / ".." / "models" / "").string();
    Pull("fp16");
    const fs::path moved = dir_.path() / "elsewhere";
    fs::rename(dir_.path() / "models", moved);
    auto models = ListInstalled(moved.string() + "/");
    ASSERT_TRUE(models.has_value()) << models.error().message;
    ASSERT_EQ(models->size(), 1u);
    EXPECT_EQ((*models)[0].dir, (moved / "sdxl-turbo").string());
    auto reports = VerifyInstalled(moved.string(), "sdxl-turbo");
    ASSERT_TRUE(reports.has_value());
    EXPECT_TRUE((*reports)[0].ok());
}

TEST_F(ModelStoreTest, RecordedSha256ComesFromTheManifestWhileTheSizeMatches) {
    Pull("fp16");
    const fs::path ckpt = ModelDir() / "sd_xl_turbo_1.0_fp16.safetensors";
    auto sha = RecordedSha256(dir_.str(), ckpt.string());
    ASSERT_TRUE(sha.has_value()) << sha.error().message;
    EXPECT_EQ(*sha, testing::Sha256HexOf(fp16_));
    testing::WriteFile(ckpt, fp16_ + "x");
    EXPECT_FALSE(RecordedSha256(dir_.str(), ckpt.string()).has_value());
    EXPECT_FALSE(RecordedSha256(dir_.str(), (dir_.path() / "other.safetensors").string()).has_value());
}

TEST_F(ModelStoreTest, MalformedManifestIsAnErrorNotAnEmptyList) {
    testing::WriteFile(dir_.path() / kManifestFileName, "{not json");
    auto models = ListInstalled(dir_.str());
    ASSERT_FALSE(models.has_value());
    EXPECT_NE(models.error().message.find("malformed"), std::string::npos) << models.error().message;
}

}  // namespace
}  // namespace labhouse::models
