// Tile planning and blend weights for the tiled VAE (vae_tiling.h). Torch-free.
#include "labhouse/engine/vae_tiling.h"

#include <algorithm>

namespace labhouse::engine {

std::string VaeTiling::Describe() const {
    return enabled() ? std::to_string(tile) + "/" + std::to_string(overlap) : "off";
}

VaeTiling ResolveVaeTiling(int vae_tile, int width, int height) {
    if (vae_tile == kVaeTileOff) return {};
    int side = vae_tile;
    if (vae_tile == kVaeTileAuto) {
        if (static_cast<std::int64_t>(width) * height <= kVaeAutoTileAbovePixels) return {};
        side = kVaeAutoTileSide;
    }
    if (width <= side && height <= side) return {};  // one tile: the untiled VAE, without the copies
    return {side, std::max(64, side / 8)};  // sides are multiples of 64: a whole number of latents
}

std::string VaeTileGrid(const VaeTiling& tiling, int width, int height, int downscale) {
    if (!tiling.enabled()) return "1x1";
    auto count = [&](int length) -> std::string {
        auto axis = PlanTileAxis(length / downscale, tiling.tile / downscale, tiling.overlap / downscale, 1);
        return axis ? std::to_string(axis->starts.size()) : "?";
    };
    return count(height) + "x" + count(width);
}

Result<TileAxis> PlanTileAxis(std::int64_t length, std::int64_t max_tile, std::int64_t min_overlap,
                              std::int64_t granularity) {
    if (length <= 0 || max_tile <= 0 || min_overlap < 0 || granularity <= 0 || min_overlap >= max_tile) {
        return InvalidArgument("tiling needs a positive length and tile, and an overlap in [0, tile); got length " +
                               std::to_string(length) + ", tile " + std::to_string(max_tile) + ", overlap " +
                               std::to_string(min_overlap));
    }
    if (length % granularity != 0 || max_tile % granularity != 0 || min_overlap % granularity != 0) {
        return InvalidArgument("tiling: length " + std::to_string(length) + ", tile " + std::to_string(max_tile) +
                               " and overlap " + std::to_string(min_overlap) + " must be multiples of " +
                               std::to_string(granularity));
    }
    if (length <= max_tile) return TileAxis{{0}, length};
    // In units of the granularity: l = (n - 1) * stride + t with stride <= t - o.
    const std::int64_t l = length / granularity, t_max = max_tile / granularity, o = min_overlap / granularity;
    const std::int64_t n = (l - o + (t_max - o) - 1) / (t_max - o);  // fewest tiles of t_max
    // Smallest equal tile for n tiles: n * t - (n - 1) * o >= l. It is <= t_max by the choice of n.
    const std::int64_t t = (l + (n - 1) * o + n - 1) / n;
    TileAxis axis;
    axis.size = t * granularity;
    // Flooring keeps every stride <= ceil((l - t) / (n - 1)) <= t - o: no overlap falls below o.
    for (std::int64_t i = 0; i < n; ++i) axis.starts.push_back(i * (l - t) / (n - 1) * granularity);
    return axis;
}

std::vector<std::vector<float>> TileBlendWeights(const TileAxis& axis, std::int64_t scale_num,
                                                 std::int64_t scale_den) {
    const std::size_t n = axis.starts.size();
    auto out = [&](std::int64_t v) { return v * scale_num / scale_den; };
    const std::int64_t size = out(axis.size);
    const std::int64_t total = n == 0 ? 0 : out(axis.starts.back()) + size;
    // Ramps first: 0.5-centred so both tiles of an overlap of k outputs get (j + 0.5) / k and its
    // complement, which sum to one exactly where only two tiles meet.
    std::vector<std::vector<double>> ramps(n, std::vector<double>(static_cast<std::size_t>(size), 1.0));
    std::vector<double> sum(static_cast<std::size_t>(total), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t begin = out(axis.starts[i]), end = begin + size;
        for (std::int64_t x = begin; x < end; ++x) {
            double r = 1.0;
            if (i > 0) {
                const std::int64_t len = out(axis.starts[i - 1]) + size - begin;  // overlap with the previous tile
                if (len > 0) r = std::min(r, (static_cast<double>(x - begin) + 0.5) / static_cast<double>(len));
            }
            if (i + 1 < n) {
                const std::int64_t len = end - out(axis.starts[i + 1]);  // overlap with the next tile
                if (len > 0) r = std::min(r, (static_cast<double>(end - x) - 0.5) / static_cast<double>(len));
            }
            ramps[i][static_cast<std::size_t>(x - begin)] = r;
            sum[static_cast<std::size_t>(x)] += r;
        }
    }
    // Normalised: where three tiles meet (short axes with many tiles) the ramps alone would not sum to one.
    std::vector<std::vector<float>> weights(n, std::vector<float>(static_cast<std::size_t>(size)));
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t begin = out(axis.starts[i]);
        for (std::int64_t j = 0; j < size; ++j) {
            weights[i][static_cast<std::size_t>(j)] = static_cast<float>(
                ramps[i][static_cast<std::size_t>(j)] / sum[static_cast<std::size_t>(begin + j)]);
        }
    }
    return weights;
}

}  // namespace labhouse::engine
