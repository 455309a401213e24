#include "labhouse/engine/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;
using testing::WriteRawSafetensors;

std::string OpenError(const std::string& path) {
    auto file = SafetensorsFile::Open(path);
    EXPECT_FALSE(file.has_value());
    return file ? std::string() : file.error().message;
}

TEST(SafetensorsTest, WriteThenReadRoundTrip) {
    TempDir dir("st-roundtrip");
    const std::vector<TensorSpec> specs = {
        {"a", DType::kF32, {2, 3}}, {"b.weight", DType::kF16, {4}}, {"c", DType::kBF16, {1, 1}}};
    ASSERT_TRUE(WriteSafetensors(dir.File("m.safetensors"), specs, {{"format", "pt"}},
                                 [](std::size_t i, std::uint8_t* out, std::size_t bytes) {
                                     for (std::size_t k = 0; k < bytes; ++k)
                                         out[k] = static_cast<std::uint8_t>(i * 16 + k);
                                 }));
    auto file = SafetensorsFile::Open(dir.File("m.safetensors"));
    ASSERT_TRUE(file.has_value()) << file.error().message;
    ASSERT_EQ((*file)->tensors().size(), 3u);
    const TensorInfo* b = (*file)->Find("b.weight");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->dtype, DType::kF16);
    EXPECT_EQ(b->shape, (std::vector<std::int64_t>{4}));
    EXPECT_EQ(b->end - b->begin, 8u);
    EXPECT_EQ((*file)->Data(*b)[3], 16 + 3);
    EXPECT_EQ((*file)->metadata().at("format"), "pt");
    EXPECT_EQ((*file)->Find("c")->dtype, DType::kBF16);
    EXPECT_EQ((*file)->Find("missing"), nullptr);
}

TEST(SafetensorsTest, ReadDataCopiesTheTensorsBytesAndRefusesRangesOutsideIt) {
    TempDir dir("st-read");
    const std::vector<TensorSpec> specs = {{"a", DType::kF32, {2, 3}}, {"b", DType::kF16, {5}}};
    ASSERT_TRUE(WriteSafetensors(dir.File("m.safetensors"), specs, {},
                                 [](std::size_t i, std::uint8_t* out, std::size_t bytes) {
                                     for (std::size_t k = 0; k < bytes; ++k)
                                         out[k] = static_cast<std::uint8_t>(i * 100 + k);
                                 }));
    auto file = SafetensorsFile::Open(dir.File("m.safetensors"));
    ASSERT_TRUE(file.has_value()) << file.error().message;
    const TensorInfo* b = (*file)->Find("b");
    ASSERT_NE(b, nullptr);
    std::uint8_t out[10] = {};
    ASSERT_TRUE((*file)->ReadData(*b, 0, 10, out));
    EXPECT_EQ(std::memcmp(out, (*file)->Data(*b), 10), 0);
    ASSERT_TRUE((*file)->ReadData(*b, 6, 4, out));
    EXPECT_EQ(out[0], 100 + 6);
    EXPECT_EQ(out[3], 100 + 9);
    EXPECT_FALSE((*file)->ReadData(*b, 6, 5, out));   // one byte past the tensor
    EXPECT_FALSE((*file)->ReadData(*b, 11, 0, out));  // starts past it
    EXPECT_TRUE((*file)->ReadData(*b, 10, 0, out));   // empty range at the end
}

TEST(SafetensorsTest, TruncatedDataNamesTheTensor) {
    TempDir dir("st-trunc");
    ASSERT_TRUE(WriteSafetensors(dir.File("m.safetensors"),
                                 {{"first", DType::kF32, {4}}, {"second", DType::kF32, {64}}}, {},
                                 [](std::size_t, std::uint8_t*, std::size_t) {}));
    std::filesystem::resize_file(dir.File("m.safetensors"), std::filesystem::file_size(dir.File("m.safetensors")) - 10);
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("'second'"), std::string::npos) << error;
    EXPECT_NE(error.find("past the end"), std::string::npos) << error;
    EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

TEST(SafetensorsTest, TruncatedInsideTheHeader) {
    TempDir dir("st-trunc-header");
    WriteRawSafetensors(dir.File("m.safetensors"), R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "",
                        500);
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("header claims 500 bytes but the file has only"), std::string::npos) << error;
}

TEST(SafetensorsTest, OffsetsPastTheEnd) {
    TempDir dir("st-offsets");
    WriteRawSafetensors(dir.File("m.safetensors"), R"({"w":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}})",
                        std::string(16, '\0'));
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("tensor 'w': data_offsets [0, 1000) point past the end"), std::string::npos) << error;
}

TEST(SafetensorsTest, SizeMustMatchShapeTimesDtype) {
    TempDir dir("st-size");
    WriteRawSafetensors(dir.File("m.safetensors"), R"({"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})",
                        std::string(16, '\0'));
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("tensor 'w': size 16 bytes does not match shape x F16 = 8 bytes"), std::string::npos) << error;
}

TEST(SafetensorsTest, OverlappingTensors) {
    TempDir dir("st-overlap");
    WriteRawSafetensors(
        dir.File("m.safetensors"),
        R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
        std::string(24, '\0'));
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("tensor 'y' overlaps tensor 'x'"), std::string::npos) << error;
}

TEST(SafetensorsTest, RejectsTwoGigabyteHeaderClaimWithoutAllocating) {
    TempDir dir("st-2gb");
    WriteRawSafetensors(dir.File("m.safetensors"), "{}", "", 2ull << 30);
    const std::string error = OpenError(dir.File("m.safetensors"));
    EXPECT_NE(error.find("header claims 2147483648 bytes, over the 104857600-byte limit"), std::string::npos) << error;
}

TEST(SafetensorsTest, BadJsonDtypeAndShape) {
    TempDir dir("st-bad");
    WriteRawSafetensors(dir.File("a.safetensors"), "{not json", "");
    EXPECT_NE(OpenError(dir.File("a.safetensors")).find("not valid JSON"), std::string::npos);
    WriteRawSafetensors(dir.File("b.safetensors"), R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})",
                        "x");
    EXPECT_NE(OpenError(dir.File("b.safetensors")).find("tensor 'w': unsupported dtype 'F8_E4M3'"), std::string::npos);
    WriteRawSafetensors(dir.File("c.safetensors"), R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                        "abcd");
    EXPECT_NE(OpenError(dir.File("c.safetensors")).find("tensor 'w': bad dimension"), std::string::npos);
    // A shape whose byte count overflows 64 bits must not wrap around to a small number.
    WriteRawSafetensors(dir.File("d.safetensors"),
                        R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "");
    EXPECT_NE(OpenError(dir.File("d.safetensors")).find("tensor 'w': shape is too large"), std::string::npos);
    std::ofstream(dir.File("e.safetensors")) << "abc";
    EXPECT_NE(OpenError(dir.File("e.safetensors")).find("too short"), std::string::npos);
    EXPECT_NE(OpenError(dir.File("does-not-exist.safetensors")).find("cannot open"), std::string::npos);
}

TEST(SafetensorsTest, HalfConversion) {
    EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
    EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
    EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
    EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);
    EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
    EXPECT_EQ(FloatToHalf(5.960464477539063e-08f), 0x0001);  // smallest subnormal
    for (float v : {0.1f, -3.14159f, 1e-5f, 1234.5f, 0.00006f}) {
        EXPECT_NEAR(HalfToFloat(FloatToHalf(v)), v, std::abs(v) * 1e-3 + 1e-7) << v;
    }
}

}  // namespace
}  // namespace labhouse::engine
