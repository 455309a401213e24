// PullModel against the fake hub: full pull, resume, verification, hub errors, disk space, token
// hygiene.
#include "labhouse/models/pull.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <mutex>

#include "labhouse/core/base/log.h"
#include "labhouse/models/manifest.h"
#include "tests/models/fake_hub.h"
#include "tests/models/test_util.h"

namespace labhouse::models {
namespace {

namespace fs = std::filesystem;
using testing::FakeFile;
using testing::FakeHub;
using testing::kFakeHubChunk;
using testing::TempDir;

constexpr const char* kRepo = "acme/tiny-sdxl";
constexpr const char* kWeights = "model.safetensors";
constexpr const char* kVocab = "tokenizer/vocab.json";
constexpr const char* kToken = "hf_SuperSecretToken123";
constexpr std::size_t kWeightsSize = 1 << 20;

class ModelsPullTest : public ::testing::Test {
protected:
    void SetUp() override {
        weights_ = testing::TestBytes(kWeightsSize, 7);
        vocab_ = R"({"!": 0, "a</w>": 1})";
        hub_.AddFile(kRepo, kWeights, weights_, /*lfs=*/true);
        hub_.AddFile(kRepo, kVocab, vocab_, /*lfs=*/false);
        options_.models_dir = dir_.str();
        options_.retry_backoff = std::chrono::milliseconds(1);
        options_.max_attempts = 3;
    }

    HubClient Hub(const std::string& token = "") const {
        HubConfig config;
        config.endpoint = hub_.endpoint();
        config.token = token;
        config.stall_timeout_s = 5;
        return HubClient(config);
    }

    ModelSpec Spec(std::vector<std::string> files = {kWeights, kVocab}) const {
        auto spec = ResolvePullRequest({kRepo, "", files, "main"});
        EXPECT_TRUE(spec.has_value()) << spec.error().message;
        return *spec;
    }

    fs::path Installed(const std::string& path) const { return dir_.path() / "acme--tiny-sdxl" / path; }

    std::vector<fs::path> FilesUnder(const fs::path& root) const {
        std::vector<fs::path> found;
        for (const auto& entry : fs::recursive_directory_iterator(root)) {
            if (entry.is_regular_file()) found.push_back(entry.path());
        }
        return found;
    }

    TempDir dir_;
    FakeHub hub_;
    PullOptions options_;
    std::string weights_;
    std::string vocab_;
};

TEST_F(ModelsPullTest, PullsEveryFileVerifiesAndRecordsTheManifest) {
    auto model = PullModel(Spec(), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;

    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
    EXPECT_EQ(testing::ReadFile(Installed(kVocab)), vocab_);
    EXPECT_FALSE(fs::exists(Installed(kWeights).string() + ".partial"));
    EXPECT_FALSE(fs::exists(Installed(kWeights).string() + ".partial.json"));
    ASSERT_EQ(model->files.size(), 2u);
    EXPECT_EQ(model->files[0].sha256, testing::Sha256HexOf(weights_));
    EXPECT_EQ(model->files[0].verified_by, "hub-sha256");
    EXPECT_EQ(model->files[1].sha256, testing::Sha256HexOf(vocab_));
    EXPECT_EQ(model->files[1].verified_by, "hub-git-sha1");
    EXPECT_EQ(model->commit, testing::kFakeCommit);

    auto manifest = LoadManifest(dir_.str());
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message;
    ASSERT_EQ(manifest->size(), 1u);
    EXPECT_EQ((*manifest)[0].name, kRepo);
    EXPECT_EQ((*manifest)[0].files[0].sha256, testing::Sha256HexOf(weights_));
    EXPECT_EQ((*manifest)[0].TotalBytes(), static_cast<std::int64_t>(weights_.size() + vocab_.size()));
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, static_cast<std::int64_t>(kWeightsSize));
}

TEST_F(ModelsPullTest, ReportsProgressUpToTheFileSize) {
    std::vector<PullProgress> seen;
    auto model = PullModel(Spec({kWeights}), Hub(), options_, [&](const PullProgress& p) { seen.push_back(p); });
    ASSERT_TRUE(model.has_value()) << model.error().message;
    ASSERT_FALSE(seen.empty());
    EXPECT_TRUE(seen.back().finished);
    EXPECT_EQ(seen.back().done, static_cast<std::int64_t>(kWeightsSize));
    EXPECT_EQ(seen.back().total, static_cast<std::int64_t>(kWeightsSize));
    for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].done, seen[i - 1].done);
}

TEST_F(ModelsPullTest, ResumesAfterADroppedConnectionWithoutFetchingBytesTwice) {
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.drops = 1;
    file.drop_after = 400 * 1024;

    auto model = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;

    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
    EXPECT_EQ(file.cdn_requests, 2);
    ASSERT_EQ(file.ranges.size(), 2u);
    EXPECT_EQ(file.ranges[0], "");
    EXPECT_EQ(file.ranges[1].rfind("bytes=", 0), 0u) << file.ranges[1];
    EXPECT_NE(file.ranges[1], "bytes=0-");
    EXPECT_LE(file.served_bytes, static_cast<std::int64_t>(kWeightsSize + kFakeHubChunk));
}

TEST_F(ModelsPullTest, ResumesInALaterRunFromThePartialFile) {
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.drops = 1;
    file.drop_after = 600 * 1024;
    options_.max_attempts = 1;

    auto first = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(first.error().message.find("run again to resume"), std::string::npos) << first.error().message;
    EXPECT_FALSE(fs::exists(Installed(kWeights)));
    const fs::path partial = Installed(kWeights).string() + ".partial";
    ASSERT_TRUE(fs::exists(partial));
    const auto kept = static_cast<std::int64_t>(fs::file_size(partial));
    EXPECT_GE(kept, 600 * 1024);
    EXPECT_EQ(kept, file.served_bytes);  // every byte served before the drop was kept
    EXPECT_TRUE(fs::exists(Installed(kWeights).string() + ".partial.json"));

    auto second = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
    EXPECT_FALSE(fs::exists(partial));
    EXPECT_LE(file.served_bytes, static_cast<std::int64_t>(kWeightsSize + kFakeHubChunk));
    EXPECT_EQ(file.ranges.back(), "bytes=" + std::to_string(kept) + "-");
}

TEST_F(ModelsPullTest, RestartsCleanlyWhenTheServerIgnoresTheRange) {
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.drops = 1;
    file.drop_after = 300 * 1024;
    options_.max_attempts = 1;
    ASSERT_FALSE(PullModel(Spec({kWeights}), Hub(), options_).has_value());

    file.ignore_range = true;
    auto model = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
    EXPECT_EQ(model->files[0].sha256, testing::Sha256HexOf(weights_));
}

TEST_F(ModelsPullTest, ExpiredCdnLinkIsRefreshedByProbingAgain) {
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.cdn_denials = 1;
    auto model = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
    EXPECT_EQ(file.probes, 2);
    EXPECT_EQ(file.cdn_requests, 2);
}

TEST_F(ModelsPullTest, FileNamesAreEscapedInTheUrl) {
    const std::string odd = "weights/my model+v2#1.safetensors";
    hub_.AddFile(kRepo, odd, "odd bytes");
    auto model = PullModel(Spec({odd}), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(testing::ReadFile(Installed(odd)), "odd bytes");
}

TEST_F(ModelsPullTest, ChecksumMismatchLeavesNoInstalledFileAndSaysSo) {
    hub_.File(kRepo, kWeights).corrupt = true;

    auto model = PullModel(Spec(), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.error().message.find("checksum mismatch"), std::string::npos) << model.error().message;
    EXPECT_NE(model.error().message.find(kWeights), std::string::npos) << model.error().message;
    EXPECT_NE(model.error().message.find(testing::Sha256HexOf(weights_)), std::string::npos);
    EXPECT_FALSE(fs::exists(Installed(kWeights)));
    for (const auto& path : FilesUnder(dir_.path())) {
        EXPECT_EQ(path.string().find(kWeights), std::string::npos) << "left behind: " << path;
    }
    auto manifest = LoadManifest(dir_.str());
    ASSERT_TRUE(manifest.has_value());
    EXPECT_TRUE(manifest->empty());
}

TEST_F(ModelsPullTest, CorruptedGitFileIsCaughtByItsBlobId) {
    hub_.File(kRepo, kVocab).corrupt = true;
    auto model = PullModel(Spec({kVocab}), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.error().message.find("checksum mismatch"), std::string::npos) << model.error().message;
    EXPECT_NE(model.error().message.find("git blob"), std::string::npos) << model.error().message;
    EXPECT_FALSE(fs::exists(Installed(kVocab)));
    EXPECT_FALSE(fs::exists(Installed(kVocab).string() + ".partial"));
}

TEST_F(ModelsPullTest, UnauthorizedSaysToSetHfToken) {
    hub_.Gate(kRepo, kToken);
    auto model = PullModel(Spec(), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(model.error().message.find("set HF_TOKEN (gated or private repo"), std::string::npos)
        << model.error().message;
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, 0);
}

TEST_F(ModelsPullTest, GatedRepoWithTokenWorksAndTheCdnNeverSeesTheToken) {
    hub_.Gate(kRepo, kToken);
    auto model = PullModel(Spec(), Hub(kToken), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    int hub_requests = 0;
    int cdn_requests = 0;
    for (const auto& request : hub_.Requests()) {
        if (request.cdn) {
            ++cdn_requests;
            EXPECT_EQ(request.authorization, "") << request.path;
        } else {
            ++hub_requests;
            EXPECT_EQ(request.authorization, std::string("Bearer ") + kToken) << request.path;
        }
    }
    EXPECT_GT(hub_requests, 0);
    EXPECT_GT(cdn_requests, 0);
}

TEST_F(ModelsPullTest, RejectedTokenIsNotEchoed) {
    hub_.Gate(kRepo, kToken);
    auto model = PullModel(Spec(), Hub("hf_WrongToken987"), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.error().message.find("HF_TOKEN was rejected"), std::string::npos) << model.error().message;
    EXPECT_EQ(model.error().message.find("hf_WrongToken987"), std::string::npos);
}

TEST_F(ModelsPullTest, NotFoundNamesTheFile) {
    auto model = PullModel(Spec({kWeights, "unet/missing.safetensors"}), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
    EXPECT_NE(model.error().message.find("'unet/missing.safetensors'"), std::string::npos) << model.error().message;
    EXPECT_NE(model.error().message.find(kRepo), std::string::npos);
    // Probed before anything was fetched: the first file cost nothing.
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, 0);
}

TEST_F(ModelsPullTest, UnknownRepoWithoutTokenSaysToSetHfToken) {
    auto spec = ResolvePullRequest({"acme/private-thing", "", {"x.bin"}, "main"});
    ASSERT_TRUE(spec.has_value());
    auto model = PullModel(*spec, Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.error().message.find("set HF_TOKEN"), std::string::npos) << model.error().message;
}

TEST_F(ModelsPullTest, NotEnoughDiskSpaceFailsBeforeDownloading) {
    std::string asked_dir;
    options_.free_bytes = [&](const std::string& dir) -> Result<std::int64_t> {
        asked_dir = dir;
        return std::int64_t{100'000};
    };
    options_.reserve_bytes = 0;
    auto model = PullModel(Spec(), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kResourceExhausted);
    EXPECT_NE(model.error().message.find("not enough disk space"), std::string::npos) << model.error().message;
    EXPECT_EQ(fs::path(asked_dir), dir_.path() / "acme--tiny-sdxl");
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, 0);
}

TEST_F(ModelsPullTest, DiskSpaceCheckCountsOnlyWhatIsLeftToFetch) {
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.drops = 1;
    file.drop_after = 512 * 1024;
    options_.max_attempts = 1;
    ASSERT_FALSE(PullModel(Spec({kWeights}), Hub(), options_).has_value());

    options_.reserve_bytes = 0;
    // Half the file is on disk: room for the other half (and no more) must be enough.
    options_.free_bytes = [](const std::string&) -> Result<std::int64_t> { return std::int64_t{kWeightsSize / 2}; };
    auto model = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
}

TEST_F(ModelsPullTest, DiskFillingUpMidDownloadIsAnErrorAndInstallsNothing) {
    // RLIMIT_FSIZE makes writes past 300 KiB fail (EFBIG, with SIGXFSZ ignored) the way a full disk
    // makes them fail, without needing a small filesystem.
    rlimit old_limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    rlimit small = old_limit;
    small.rlim_cur = 300 * 1024;
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto model = PullModel(Spec({kWeights}), Hub(), options_);
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);

    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kResourceExhausted) << model.error().message;
    EXPECT_NE(model.error().message.find("disk full"), std::string::npos) << model.error().message;
    EXPECT_FALSE(fs::exists(Installed(kWeights)));
    // What did reach the disk is a valid prefix: the next run resumes from it.
    auto again = PullModel(Spec({kWeights}), Hub(), options_);
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(testing::ReadFile(Installed(kWeights)), weights_);
}

TEST_F(ModelsPullTest, FileLargerThanTheRealDiskIsRefusedByStatvfs) {
    hub_.File(kRepo, kWeights).advertised_size = std::int64_t{1} << 60;  // 1 EiB
    auto model = PullModel(Spec(), Hub(), options_);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kResourceExhausted) << model.error().message;
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, 0);
}

TEST_F(ModelsPullTest, AlreadyInstalledFilesAreNotFetchedAgain) {
    ASSERT_TRUE(PullModel(Spec(), Hub(), options_).has_value());
    const auto served = hub_.File(kRepo, kWeights).served_bytes;
    auto again = PullModel(Spec(), Hub(), options_);
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(hub_.File(kRepo, kWeights).served_bytes, served);
    EXPECT_EQ(again->files[0].sha256, testing::Sha256HexOf(weights_));
}

TEST_F(ModelsPullTest, PinnedCatalogHashIsCheckedAndAgreesWithTheHub) {
    ModelSpec spec = Spec({kWeights});
    spec.files[0].sha256 = testing::Sha256HexOf(weights_);
    auto model = PullModel(spec, Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(model->files[0].verified_by, "catalog");

    spec.files[0].sha256 = std::string(64, 'a');
    auto changed = PullModel(spec, Hub(), options_);
    ASSERT_FALSE(changed.has_value());
    EXPECT_EQ(changed.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(changed.error().message.find("changed upstream"), std::string::npos) << changed.error().message;
}

TEST_F(ModelsPullTest, TokenNeverAppearsInLogsOrErrors) {
    std::mutex mutex;
    std::string logged;
    SetLogSink([&](LogLevel, std::string_view event, const LogFields& fields) {
        std::lock_guard lock(mutex);
        logged += FormatLogLine(event, fields) + "\n";
    });
    hub_.Gate(kRepo, kToken);
    FakeFile& file = hub_.File(kRepo, kWeights);
    file.drops = 1;
    file.drop_after = 200 * 1024;
    auto ok = PullModel(Spec(), Hub(kToken), options_);  // retries log warnings
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    auto missing = PullModel(Spec({"nope.bin"}), Hub(kToken), options_);
    ASSERT_FALSE(missing.has_value());
    hub_.File(kRepo, kWeights).corrupt = true;
    fs::remove_all(dir_.path() / "acme--tiny-sdxl");
    fs::remove(dir_.path() / "manifest.json");
    auto corrupt = PullModel(Spec(), Hub(kToken), options_);
    ASSERT_FALSE(corrupt.has_value());
    SetLogSink(nullptr);

    EXPECT_NE(logged.find("model_download_retry"), std::string::npos) << logged;
    EXPECT_NE(logged.find("auth=token"), std::string::npos) << logged;
    EXPECT_EQ(logged.find(kToken), std::string::npos) << logged;
    EXPECT_EQ(missing.error().message.find(kToken), std::string::npos);
    EXPECT_EQ(corrupt.error().message.find(kToken), std::string::npos);
}

TEST_F(ModelsPullTest, SecondPullIntoTheSameDirWaitsForNoOneAndRefuses) {
    fs::create_directories(Installed(""));
    const int fd = ::open((Installed("") / ".pull.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    auto model = PullModel(Spec(), Hub(), options_);
    ::close(fd);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(model.error().message.find("another pull"), std::string::npos) << model.error().message;
    EXPECT_TRUE(PullModel(Spec(), Hub(), options_).has_value());
}

TEST_F(ModelsPullTest, CatalogModelUsesTheHubUrlScheme) {
    // sdxl-turbo's real file names, served by the fake under the real repository id.
    const std::string ckpt = testing::TestBytes(64 * 1024, 3);
    hub_.AddFile("stabilityai/sdxl-turbo", "sd_xl_turbo_1.0_fp16.safetensors", ckpt);
    hub_.AddFile("stabilityai/sdxl-turbo", "tokenizer/vocab.json", "{}", false);
    hub_.AddFile("stabilityai/sdxl-turbo", "tokenizer/merges.txt", "#version: 0.2\n", false);
    auto spec = ResolvePullRequest({"sdxl-turbo", "fp16", {}, "main"});
    ASSERT_TRUE(spec.has_value());
    auto model = PullModel(*spec, Hub(), options_);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(testing::ReadFile(dir_.path() / "sdxl-turbo" / "sd_xl_turbo_1.0_fp16.safetensors"), ckpt);
    EXPECT_TRUE(fs::exists(dir_.path() / "sdxl-turbo" / "tokenizer" / "merges.txt"));
    EXPECT_EQ(model->backends, std::vector<std::string>{"sdxl"});
    bool saw_resolve = false;
    for (const auto& request : hub_.Requests()) {
        saw_resolve |= request.path == "/stabilityai/sdxl-turbo/resolve/main/sd_xl_turbo_1.0_fp16.safetensors";
    }
    EXPECT_TRUE(saw_resolve);
}

}  // namespace
}  // namespace labhouse::models
