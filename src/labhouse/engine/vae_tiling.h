// VAE tiling (issue 5): the VAE encodes and decodes large images tile by tile so that its
// activations (fp32, up to 256 channels at full resolution: ~1 GB per tensor at 1024x1024) stay
// bounded by the tile size, not the image size. Torch-free: the option's rules and the tile
// planning live here (tested without libtorch); the tensor work is TiledApply (internal/tiling.h).
//
// Tiles overlap and are blended linearly across the overlap, so there are no hard seams. Each
// tile's GroupNorm sees only that tile, so a tiled result is not bit-identical to an untiled one
// (nor is any other implementation's tiled VAE); the blend spreads the difference over the overlap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::engine {

// SdxlLoadOptions::vae_tile: 0 = auto, -1 = never, N = tile side in pixels.
inline constexpr int kVaeTileAuto = 0;
inline constexpr int kVaeTileOff = -1;
// Auto tiles only images above SDXL base's native 1024x1024: the reference pictures at native size
// stay untiled (bit-identical to the untiled VAE), and larger ones (the engine accepts up to
// 4096x4096, where one decoder activation alone is ~17 GB) are tiled at 512 px.
inline constexpr std::int64_t kVaeAutoTileAbovePixels = 1024 * 1024;
inline constexpr int kVaeAutoTileSide = 512;
// Explicit tile sides: multiples of 64 px (8 latents, so pixel and latent tiles line up), from 256
// (below that the overlap is most of the tile) to 4096 (the largest image).
inline constexpr int kVaeTileMinSide = 256;
inline constexpr int kVaeTileMaxSide = 4096;

// Inline so that configuration code (app/config.cpp, built alone by the fuzz target) can use it.
inline Status ValidateVaeTile(int vae_tile) {
    if (vae_tile == kVaeTileAuto || vae_tile == kVaeTileOff) return OkStatus();
    if (vae_tile < kVaeTileMinSide || vae_tile > kVaeTileMaxSide || vae_tile % 64 != 0) {
        return InvalidArgument("vae tile must be 0 (auto), -1 (off) or a tile side in pixels, a multiple of 64 from " +
                               std::to_string(kVaeTileMinSide) + " to " + std::to_string(kVaeTileMaxSide) + ", got " +
                               std::to_string(vae_tile));
    }
    return OkStatus();
}

// What the VAE does for one image. tile = 0: untiled.
struct VaeTiling {
    int tile = 0;     // largest tile side, pixels (tiles are shrunk evenly to cover the image)
    int overlap = 0;  // smallest overlap between neighbouring tiles, pixels
    bool enabled() const { return tile > 0; }
    std::string Describe() const;  // "off" or "512/64" (the "vae_tile" record of a result)
};
// The tiling for a width x height image under a validated option: off for -1, for auto at or
// below kVaeAutoTileAbovePixels, and when one tile covers the image. The overlap is an eighth of
// the tile, at least 64 px (8 latents). No overlap makes tiles exact (the mid-block attention and
// the GroupNorms see the whole tile), so it only has to be wide enough for a smooth blend; every
// extra latent of overlap costs decoder work on each tile.
VaeTiling ResolveVaeTiling(int vae_tile, int width, int height);

// The grid the VAE uses for a width x height image under `tiling`, as "rows x columns" ("3x2");
// "1x1" when untiled. The encoder's pixel tiles and the decoder's latent tiles share this grid.
std::string VaeTileGrid(const VaeTiling& tiling, int width, int height, int downscale);

// One axis of a tile grid, in input units: `count` tiles of `size` starting at `starts`.
struct TileAxis {
    std::vector<std::int64_t> starts;
    std::int64_t size = 0;
};
// Covers [0, length) with the fewest tiles of at most `max_tile` that overlap by at least
// `min_overlap`, then shrinks them to the smallest equal size that still does, spread evenly.
// Starts, size and every argument are multiples of `granularity` (so that an input tile maps to
// a whole output tile under a 1/granularity scale). One tile of `length` when it fits.
// InvalidArgument for non-positive sizes, overlap >= tile, or arguments off the granularity.
Result<TileAxis> PlanTileAxis(std::int64_t length, std::int64_t max_tile, std::int64_t min_overlap,
                              std::int64_t granularity);
// Per tile, its blend weight at each output position of its extent (input extent x num / den):
// a linear ramp across each overlap with a neighbour, 1 elsewhere, normalised so that at every
// output position the weights of the tiles covering it sum to one.
std::vector<std::vector<float>> TileBlendWeights(const TileAxis& axis, std::int64_t scale_num, std::int64_t scale_den);

}  // namespace labhouse::engine
