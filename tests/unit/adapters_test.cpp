#include <gtest/gtest.h>

#include <filesystem>

#include "labhouse/adapters/classic/classic_transformer.h"
#include "labhouse/adapters/fs/fs_blob_store.h"
#include "labhouse/core/base/sha256.h"
#include "tests/testing/test_images.h"

namespace labhouse {
namespace {

class NullReporter final : public ProgressReporter {
public:
    void Report(const JobProgress& progress) override { reports.push_back(progress); }
    bool CancelRequested() override { return cancel; }
    std::vector<JobProgress> reports;
    bool cancel = false;
};

TEST(FsBlobStore, StoresByContentHashAtomically) {
    testing::TempDir dir;
    auto store = fs::FsBlobStore::Open(dir.path() / "blobs");
    ASSERT_TRUE(store);
    auto id = (*store)->Put("hello");
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, Sha256Hex("hello"));
    EXPECT_EQ(*(*store)->Get(*id), "hello");
    EXPECT_EQ(*(*store)->Put("hello"), *id) << "same bytes, same blob";
    int files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
        if (entry.is_regular_file()) {
            ++files;
            EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "no temp file left";
        }
    }
    EXPECT_EQ(files, 1);
    ASSERT_TRUE((*store)->Remove(*id));
    EXPECT_EQ((*store)->Get(*id).error().code, ErrorCode::kNotFound);
}

TEST(FsBlobStore, RefusesPathTricksBeforeTouchingTheDisk) {
    testing::TempDir dir;
    auto store = fs::FsBlobStore::Open(dir.path());
    ASSERT_TRUE(store);
    for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", "", std::string(64, '.'), std::string(63, 'a') + "/"}) {
        EXPECT_EQ((*store)->Get(bad).error().code, ErrorCode::kInvalidArgument) << bad;
        EXPECT_FALSE((*store)->Remove(bad)) << bad;
    }
}

TEST(ClassicTransformer, EveryEffectChangesThePhotoAndReportsProgress) {
    classic::ClassicTransformer classic;
    const Image input = testing::GradientImage(160, 120);
    for (const std::string& effect : classic::ClassicTransformer::Effects()) {
        JobParams params;
        params.backend = "classic";
        params.options["effect"] = effect;
        std::map<std::string, Image> extra;
        NullReporter reporter;
        auto output = classic.Transform({input, params, nullptr, extra}, reporter);
        ASSERT_TRUE(output) << effect << ": " << output.error().message;
        EXPECT_EQ(output->image.width, 160) << effect;
        EXPECT_EQ(output->image.height, 120) << effect;
        EXPECT_NE(output->image.rgb, input.rgb) << effect << " left the photo unchanged";
        EXPECT_EQ(reporter.reports.back().step, reporter.reports.back().total) << effect;
        EXPECT_EQ(output->meta.at("effect"), effect);
    }
}

TEST(ClassicTransformer, StrengthZeroKeepsThePhoto) {
    classic::ClassicTransformer classic;
    const Image input = testing::GradientImage(64, 64);
    JobParams params;
    params.style = "cartoon";
    params.strength = 0.0;
    std::map<std::string, Image> extra;
    NullReporter reporter;
    auto output = classic.Transform({input, params, FindStyle("cartoon"), extra}, reporter);
    ASSERT_TRUE(output);
    EXPECT_EQ(output->image.rgb, input.rgb);
}

TEST(ClassicTransformer, ValidatesStylesAndHonoursCancel) {
    classic::ClassicTransformer classic;
    JobParams params;
    EXPECT_FALSE(classic.Validate(params, nullptr)) << "needs a style";
    EXPECT_FALSE(classic.Validate(params, FindStyle("anime"))) << "anime has no classic effect";
    EXPECT_TRUE(classic.Validate(params, FindStyle("watercolor")));
    NullReporter reporter;
    reporter.cancel = true;
    std::map<std::string, Image> extra;
    const Image input = testing::GradientImage(32, 32);
    auto output = classic.Transform({input, params, FindStyle("watercolor"), extra}, reporter);
    ASSERT_FALSE(output);
    EXPECT_EQ(output.error().code, ErrorCode::kCancelled);
}

TEST(ClassicTransformer, LargePhotosAreScaledToTheConfiguredSide) {
    classic::ClassicTransformer classic({200});
    const Image input = testing::GradientImage(800, 400);
    JobParams params;
    std::map<std::string, Image> extra;
    NullReporter reporter;
    auto output = classic.Transform({input, params, FindStyle("pixel-art"), extra}, reporter);
    ASSERT_TRUE(output);
    EXPECT_EQ(output->image.width, 200);
    EXPECT_EQ(output->image.height, 100);
}

}  // namespace
}  // namespace labhouse
