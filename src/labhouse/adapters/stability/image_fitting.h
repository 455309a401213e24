// Image geometry for the Stability endpoints. SDXL v1 only accepts nine init-image sizes, so an
// upload is scaled to fit inside the allowed size of the closest aspect ratio and the small
// remainder is padded (mirrored edges); the padding is cut off the result, which therefore has
// the upload's aspect ratio and all of its content. v2beta takes any size, so uploads are only
// scaled into a pixel budget, and results are brought back to the aspect that was sent.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"

namespace labhouse::stability {

struct Size {
    int width = 0;
    int height = 0;
    bool operator==(const Size&) const = default;
};

// Allowed init-image sizes for stable-diffusion-xl-1024-v1-0 (contract §2.2; all nine, the 2025
// text that omits 832x1216 is a typo, the live error message lists it).
inline constexpr std::array<Size, 9> kSdxlSizes = {{
    {1024, 1024}, {1152, 896}, {896, 1152}, {1216, 832}, {832, 1216},
    {1344, 768}, {768, 1344}, {1536, 640}, {640, 1536},
}};

// The aspect ratios v2beta's text-to-image takes (`aspect_ratio`; contract §4.2).
inline constexpr std::array<const char*, 9> kV2AspectRatios = {"21:9", "16:9", "3:2", "5:4", "1:1",
                                                               "4:5", "2:3", "9:16", "9:21"};

bool IsSdxlSize(Size size);
// The allowed size whose aspect ratio is closest to width:height (compared as log ratios, so 2:1
// and 1:2 are equally far from 1:1).
Size ClosestSdxlSize(Size upload);

// The v2beta aspect ratio closest to width:height (log ratios, as ClosestSdxlSize).
std::string ClosestV2AspectRatio(Size wanted);

// Where the upload sits inside the SDXL canvas.
struct SdxlFit {
    Size canvas;   // one of kSdxlSizes: what is sent
    Size content;  // the scaled upload, same aspect as the upload (to the pixel)
    int offset_x = 0;
    int offset_y = 0;
    bool Padded() const { return !(content == canvas); }
    std::string Describe() const;  // "1152x896 (content 1152x864 at 0,16)" for the job record
};
SdxlFit PlanSdxlFit(Size upload);

// The upload scaled into the canvas with mirrored padding around it.
Image FitIntoCanvas(const Image& upload, const SdxlFit& fit);
// The content region of a result (scaled to the canvas first if the API answered another size).
Image CutContent(const Image& result, const SdxlFit& fit);

// The size a v2beta upload is sent at: scaled down into max_pixels, and up so that the shorter
// side is at least 64 px (ultra also needs >= 4096 px). kInvalidArgument for aspect ratios so
// extreme that both cannot hold.
Result<Size> PlanV2Upload(Size upload, std::int64_t max_pixels);

// Resizes with area averaging when shrinking and bicubic when enlarging.
Image Resize(const Image& image, Size size);
// Scales to cover `size` and crops the centre: the result has exactly `size`, the aspect of the
// source is kept, and nothing is distorted.
Image CoverResize(const Image& image, Size size);

}  // namespace labhouse::stability
