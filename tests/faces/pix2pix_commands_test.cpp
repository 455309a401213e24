// "labhouse pix2pix make-pairs" and "pix2pix train" driven through CLI11 as main() would.
#include "labhouse/pix2pix/cli/pix2pix_commands.h"

#include <gtest/gtest.h>
#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "labhouse/pix2pix/pix2pix.h"
#include "tests/faces/face_test_support.h"

namespace labhouse::pix2pix {
namespace {

namespace fs = std::filesystem;
using faces::testing::kAstronautPath;
using faces::testing::kHopperPath;

// Runs one command line; returns the exit code main() would return.
int RunCommand(const std::string& command_line) {
    CLI::App app("labhouse");
    AddPix2PixCommands(app);
    try {
        app.parse(command_line, false);
    } catch (const CLI::ParseError& e) {
        return e.get_exit_code();
    }
    return 0;
}

TEST(Pix2PixCommandsTest, MakePairsThenTrainThenResume) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    faces::testing::ScratchDir dir;
    const fs::path photos = dir.path() / "photos";
    const fs::path pairs = dir.path() / "pairs";
    const fs::path model = dir.path() / "model.pt";
    fs::create_directories(photos);
    fs::copy_file(kHopperPath, photos / "hopper.jpg");
    fs::copy_file(kAstronautPath, photos / "astronaut.png");
    cv::imwrite((photos / "blank.png").string(), cv::Mat(120, 160, CV_8UC3, cv::Scalar(40, 120, 200)));

    ASSERT_EQ(RunCommand("pix2pix make-pairs --photos " + photos.string() + " --reference " + kAstronautPath +
                         " --out " + pairs.string() + " --size 32"),
              0);
    for (const char* name : {"hopper_face0.png", "astronaut_face0.png"}) {
        const cv::Mat pair = cv::imread((pairs / name).string());
        ASSERT_FALSE(pair.empty()) << name;
        EXPECT_EQ(pair.cols, 64);
        EXPECT_EQ(pair.rows, 32);
    }
    EXPECT_FALSE(fs::exists(pairs / "blank_face0.png"));

    ASSERT_EQ(RunCommand("pix2pix train --pairs " + pairs.string() + " --out " + model.string() +
                         " --epochs 2 --size 32 --filters 4"),
              0);
    auto trained = Pix2PixModel::Load(model.string());
    ASSERT_TRUE(trained) << trained.error().message;
    EXPECT_EQ(trained->epochs_done(), 2);
    EXPECT_EQ(trained->config().image_size, 32);
    EXPECT_EQ(trained->config().depth, 5);

    // Training into an existing file needs --resume, which continues the epoch count.
    EXPECT_EQ(RunCommand("pix2pix train --pairs " + pairs.string() + " --out " + model.string() + " --epochs 3"), 1);
    ASSERT_EQ(
        RunCommand("pix2pix train --pairs " + pairs.string() + " --out " + model.string() + " --epochs 3 --resume"), 0);
    EXPECT_EQ(Pix2PixModel::Load(model.string())->epochs_done(), 3);
}

TEST(Pix2PixCommandsTest, BadInputExitsNonZero) {
    faces::testing::ScratchDir dir;
    const std::string missing = (dir.path() / "missing").string();
    EXPECT_EQ(RunCommand("pix2pix train --pairs " + missing + " --out " + (dir.path() / "m.pt").string()), 1);
    fs::create_directories(dir.path() / "empty");
    EXPECT_EQ(RunCommand("pix2pix train --pairs " + (dir.path() / "empty").string() + " --out " +
                         (dir.path() / "m.pt").string()),
              1);
    cv::imwrite((dir.path() / "empty" / "square.png").string(), cv::Mat(32, 32, CV_8UC3, cv::Scalar(1, 2, 3)));
    EXPECT_EQ(RunCommand("pix2pix train --pairs " + (dir.path() / "empty").string() + " --out " +
                         (dir.path() / "m.pt").string() + " --size 32"),
              1)
        << "a square image is not an A|B pair";
    EXPECT_FALSE(fs::exists(dir.path() / "m.pt"));
    EXPECT_NE(RunCommand("pix2pix train --out x.pt"), 0) << "--pairs is required";
    EXPECT_EQ(RunCommand("pix2pix make-pairs --photos " + missing + " --reference " + missing + " --out " + missing),
              1);

    // A reference without a face is refused before any photo is processed.
    const std::string landscape = (dir.path() / "landscape.png").string();
    cv::imwrite(landscape, cv::Mat(200, 300, CV_8UC3, cv::Scalar(200, 150, 90)));
    fs::create_directories(dir.path() / "photos");
    EXPECT_EQ(RunCommand("pix2pix make-pairs --photos " + (dir.path() / "photos").string() + " --reference " +
                         landscape + " --out " + (dir.path() / "pairs").string()),
              1);
}

}  // namespace
}  // namespace labhouse::pix2pix
