// Tiled application of a spatial function (vae_tiling.h): the tensor half, shared by the tiled
// VAE encoder and decoder and tested on its own.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "labhouse/engine/architecture.h"
#include "labhouse/engine/taesd_architecture.h"
#include "labhouse/engine/vae_tiling.h"

namespace labhouse::engine {

class WeightStore;

// Runs `fn` on overlapping tiles of x [B, C, H, W] and blends the outputs linearly across the
// overlaps (weights summing to one: TileBlendWeights). `fn` maps a tile [B, C, h, w] to
// [B, C', h * num / den, w * num / den]. `max_tile` and `min_overlap` are in input units; they, H
// and W must be multiples of `den` (PlanTileAxis). When one tile covers x it returns fn(x) itself.
// Throws std::invalid_argument for a bad plan or an output of the wrong shape.
at::Tensor TiledApply(const at::Tensor& x, std::int64_t max_tile, std::int64_t min_overlap, std::int64_t scale_num,
                      std::int64_t scale_den, const std::function<at::Tensor(const at::Tensor&)>& fn);
// RunVaeEncoder / RunVaeDecoder (torch_common.h) tile by tile when `tiling` is enabled: the encoder
// over pixel tiles (its moments blended), the decoder over latent tiles (its pixels blended). Both
// use the same grid (VaeTileGrid). Disabled tiling = the plain functions.
at::Tensor RunVaeEncoderTiled(const WeightStore& weights, const VaeConfig& config, const at::Tensor& image,
                              const VaeTiling& tiling);
at::Tensor RunVaeDecoderTiled(const WeightStore& weights, const VaeConfig& config, const at::Tensor& z,
                              const VaeTiling& tiling);
// RunTaesdDecoder (torch_common.h) on the decoder's latent tiles when `tiling` is enabled. TAESDXL has
// no normalisation, so tiles differ from the whole only through the convolutions' reach past an
// overlap, which the blend hides.
at::Tensor RunTaesdDecoderTiled(const WeightStore& weights, const TaesdDecoderLayout& layout, const at::Tensor& latent,
                                const VaeTiling& tiling);

}  // namespace labhouse::engine
