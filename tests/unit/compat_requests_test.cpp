// The compatibility APIs' request readers (compat_requests.h) on their own; the routes around them
// are covered end to end in tests/e2e/compat_process_test.cpp and sdxl_service_test.cpp.
#include "labhouse/adapters/http/compat_requests.h"

#include <gtest/gtest.h>

namespace labhouse::http {
namespace {

TEST(A1111Request, SeedMinusOneMeansRandomOtherNegativesAreRefusedByName) {
    auto random = ParseA1111Txt2Img(R"({"prompt": "x", "seed": -1})");
    ASSERT_TRUE(random) << random.error().message;
    EXPECT_FALSE(random->submit.params.seed.has_value());
    // Found by fuzz_compat_request: -2 was taken as a seed and refused later without the field's name.
    auto negative = ParseA1111Txt2Img(R"({"prompt": "x", "seed": -2})");
    ASSERT_FALSE(negative);
    EXPECT_NE(negative.error().message.find("'seed'"), std::string::npos) << negative.error().message;
    EXPECT_FALSE(ParseA1111Img2Img(R"({"init_images": ["iVBORw0KGgo="], "seed": 4294967296})"));
}

TEST(A1111Request, Txt2ImgDefaultsToA1111sSizeAndImg2ImgNeedsOneImage) {
    auto txt = ParseA1111Txt2Img(R"({"prompt": "a lighthouse", "sampler_name": "Euler a", "foo": 1})");
    ASSERT_TRUE(txt) << txt.error().message;
    EXPECT_EQ(txt->submit.params.kind, JobKind::kTextToImage);
    EXPECT_EQ(txt->submit.params.width, 512);
    EXPECT_EQ(txt->submit.params.height, 512);
    EXPECT_EQ(txt->submit.params.sampler, "euler_a");
    EXPECT_EQ(txt->ignored, std::vector<std::string>{"foo"});
    EXPECT_FALSE(ParseA1111Img2Img(R"({"prompt": "x"})"));
    EXPECT_FALSE(ParseA1111Img2Img(R"({"init_images": ["aaaa", "bbbb"]})"));
    EXPECT_FALSE(ParseA1111Img2Img("not json"));
}

TEST(OpenAiRequest, GenerationErrorsNameTheirParameter) {
    std::string param;
    auto ok = ParseOpenAiGeneration(R"({"prompt": "a fox", "size": "768x512", "response_format": "url"})", param);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->response_format, "url");
    EXPECT_EQ(ok->submit.params.width, 768);
    EXPECT_EQ(ok->submit.params.height, 512);
    EXPECT_FALSE(ParseOpenAiGeneration(R"({"prompt": "a", "n": 2})", param));
    EXPECT_EQ(param, "n");
    EXPECT_FALSE(ParseOpenAiGeneration(R"({"prompt": "a", "colour": "red"})", param));
    EXPECT_EQ(param, "colour");
}

TEST(OpenAiRequest, EditNeedsExactlyOneImage) {
    std::string param;
    httplib::MultipartFormDataMap files;
    files.emplace("prompt", httplib::MultipartFormData{"prompt", "make it blue", "", ""});
    EXPECT_FALSE(ParseOpenAiEdit(files, param));
    EXPECT_EQ(param, "image");
    files.emplace("image", httplib::MultipartFormData{"image", "bytes", "a.png", "image/png"});
    auto ok = ParseOpenAiEdit(files, param);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->submit.image_bytes, "bytes");
    files.emplace("mask", httplib::MultipartFormData{"mask", "m", "", ""});
    EXPECT_FALSE(ParseOpenAiEdit(files, param));
    EXPECT_EQ(param, "mask");
}

}  // namespace
}  // namespace labhouse::http
