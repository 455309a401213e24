// Shared by the engine's torch translation units (never by a public header): ATen, the weight
// store and the small building blocks every module uses.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "labhouse/engine/architecture.h"
#include "labhouse/engine/checkpoint.h"
#include "labhouse/engine/safetensors.h"
#include "labhouse/engine/schedule.h"
#include "labhouse/engine/taesd_architecture.h"

namespace labhouse::engine {

// Where a stored weight's bytes can be read from with SafetensorsFile::ReadData instead of through
// the mapping (low-memory mode); file null: read the tensor's memory.
struct FileSlice {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* info = nullptr;
};

// Tensors of a checkpoint by full name. In low-memory mode a tensor is read from the file (pread,
// see ReadableSlice) or, for layouts that need it, viewed in the mapped file, in its own dtype and
// converted to the compute dtype on each use; in fast mode everything is converted once at load.
class WeightStore {
public:
    WeightStore(std::shared_ptr<const CheckpointSource> source, at::Device device, at::ScalarType compute_dtype,
                bool preconvert);
    // The tensor in the compute dtype on the device; throws std::runtime_error naming it if absent.
    at::Tensor Get(const std::string& name) const;
    // The raw (file-dtype) tensor on the CPU, no conversion.
    at::Tensor Raw(const std::string& name) const;
    // True when Get converts on each use (low-memory mode on the CPU in fp32): callers that can
    // convert piecewise (LinearFromStored) then read Raw instead.
    bool converts_per_use() const { return converted_.empty() && device_.is_cpu() && dtype_ == at::kFloat; }
    // Low-memory mode: the file slice of a tensor stored whole in one file in f16, bf16 or f32 (the
    // SDXL weights), which Get and LinearFromStored read with pread rather than through the mapping;
    // {} for other tensors and in fast mode.
    FileSlice ReadableSlice(const std::string& name) const;
    // Low-memory mode: lets the kernel take back the mapped file pages of every tensor under
    // `prefix` (a finished stage's weights); they are read again from the page cache on next use.
    void DropMapped(const std::string& prefix) const;
    // Low-memory mode, before a stage: maps those pages in bulk rather than fault by fault (only the
    // tensors read through the mapping: those without a ReadableSlice).
    void PopulateMapped(const std::string& prefix) const;
    at::Device device() const { return device_; }
    at::ScalarType dtype() const { return dtype_; }
    // A view that prefixes every name (e.g. "model.diffusion_model.").
    class Scope {
    public:
        Scope(const WeightStore* store, std::string prefix) : store_(store), prefix_(std::move(prefix)) {}
        at::Tensor operator()(const std::string& name) const { return store_->Get(prefix_ + name); }
        at::Tensor Raw(const std::string& name) const { return store_->Raw(prefix_ + name); }
        FileSlice ReadableSlice(const std::string& name) const { return store_->ReadableSlice(prefix_ + name); }
        Scope Sub(const std::string& name) const { return Scope(store_, prefix_ + name + "."); }
        const WeightStore* store() const { return store_; }

    private:
        const WeightStore* store_;
        std::string prefix_;
    };
    Scope Under(const std::string& prefix) const { return Scope(this, prefix); }

private:
    std::shared_ptr<const CheckpointSource> source_;
    at::Device device_;
    at::ScalarType dtype_;
    std::unordered_map<std::string, at::Tensor> converted_;
};

using W = WeightStore::Scope;

// Building blocks (sgm names: `w(name + ".weight")`, `w(name + ".bias")`). Linear runs
// LinearFromStored for fp32 CPU input (in both memory modes), at::linear otherwise.
at::Tensor Linear(const W& w, const std::string& name, const at::Tensor& x, bool bias = true);
// The same on explicit tensor names (bias_name empty: no bias), e.g. open_clip's packed in_proj.
at::Tensor LinearNamed(const W& w, const std::string& weight_name, const std::string& bias_name, const at::Tensor& x);
// x W^T + bias for fp32 x [..., K] and W [N, K] stored contiguous in f16, bf16 or f32 (a view of
// the mapped file, or read from the file): the N rows are split into blocks over the threads; each
// thread converts one block into a cache-resident fp32 buffer and multiplies it single-threaded
// into its columns of the output, with OnednnLinear where ATen has oneDNN, else ATen's sgemm.
// Low-memory mode's per-use conversion otherwise writes and reads back the whole fp32 weight.
// With `source`, the rows are read from the file instead (weight then gives only dtype and shape
// and may be a meta tensor).
at::Tensor LinearFromStored(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            FileSlice source = {});
// x [M, K] W^T + bias as oneDNN's 1x1 convolution on views (no copies; fp32, contiguous, CPU). It
// runs oneDNN's own kernels for the CPU at hand, which were 1.6-1.9x faster here than the sgemm
// ATen calls: that BLAS may be held to its AVX2 kernels (OPENBLAS_CORETYPE, set on CPUs that
// older OpenBLAS builds misdetect) where oneDNN uses AVX-512 (docs/engine.md, "Linear layers").
at::Tensor OnednnLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
at::Tensor Conv(const W& w, const std::string& name, const at::Tensor& x, int stride = 1, int padding = -1);
at::Tensor GroupNorm(const W& w, const std::string& name, const at::Tensor& x, double eps);
// GroupNorm(32) then SiLU in place (fp32, keeps channels-last).
at::Tensor GroupNormSilu(const W& w, const std::string& name, const at::Tensor& x, double eps);
// Both, on explicit affine parameters: 32 groups, optional SiLU.
at::Tensor GroupNormAct(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, double eps, bool silu);
at::Tensor LayerNorm(const W& w, const std::string& name, const at::Tensor& x, double eps = 1e-5);
// softmax(q k^T * scale + mask) v for q, k, v of shape [B, heads, N, d] (any strides with a unit
// last stride, e.g. SplitHeads views); returns [B, N, heads * d] (heads merged). Each thread takes
// whole (batch, head, query chunk) tasks with single-threaded matmuls and an in-place softmax on a
// small score block: ATen's bmm + softmax ran at ~10 GFLOP/s with 2 threads here.
at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {});
// [B, N, heads*d] <-> [B, heads, N, d]
at::Tensor SplitHeads(const at::Tensor& x, int heads);
at::Tensor MergeHeads(const at::Tensor& x);

// Single modules, for the micro benchmark and tests: one UNet SpatialTransformer's
// BasicTransformerBlock (x [B, N, C]), one UNet ResBlock, one VAE ResnetBlock.
at::Tensor RunUnetTransformerBlock(const W& w, const at::Tensor& x, const at::Tensor& context, int heads);
at::Tensor RunUnetResBlock(const W& w, const at::Tensor& x, const at::Tensor& emb_silu);
at::Tensor RunVaeResnetBlock(const W& w, const at::Tensor& x);
// Sinusoidal embedding, cos first (sgm `timestep_embedding`, diffusers flip_sin_to_cos=True).
at::Tensor TimestepEmbedding(const at::Tensor& t, int dim);

// --- modules (text_encoders.cpp, unet.cpp, vae.cpp) -------------------------------------------

struct TextEncoderOutput {
    at::Tensor hidden;  // [B, 77, width] penultimate layer output
    at::Tensor pooled;  // [B, projection_dim] (bigG only; undefined for CLIP-L)
};
// ids: int64 [B, 77].
TextEncoderOutput RunClipText(const WeightStore& weights, const ClipTextConfig& config, const at::Tensor& ids);

// x [B, 4, h, w], t [B] (float timesteps), context [B, 77, ctx], y [B, adm] -> eps [B, 4, h, w].
at::Tensor RunUnet(const WeightStore& weights, const UnetConfig& config, const UnetPlan& plan, const at::Tensor& x,
                   const at::Tensor& t, const at::Tensor& context, const at::Tensor& y);

// image [B, 3, H, W] in [-1, 1] -> moments [B, 2z, H/f, W/f] (after quant_conv).
at::Tensor RunVaeEncoder(const WeightStore& weights, const VaeConfig& config, const at::Tensor& image);
// z [B, z, h, w] (already divided by the scale factor) -> image [B, 3, H, W] in about [-1, 1].
at::Tensor RunVaeDecoder(const WeightStore& weights, const VaeConfig& config, const at::Tensor& z);
// latent [B, z, h, w] as the sampler has it (scale factor included) -> image [B, 3, 8h, 8w] in about [0, 1].
at::Tensor RunTaesdDecoder(const WeightStore& weights, const TaesdDecoderLayout& layout, const at::Tensor& latent);

// --- sampling (sampler.cpp) ---------------------------------------------------------------------

struct SamplerHooks {
    std::function<at::Tensor(const at::Tensor& x, double sigma)> denoise;  // D(x, sigma), CFG applied
    std::function<at::Tensor()> noise;                                     // a fresh N(0, 1) latent
    // After each step, with that step's prediction of the clean latent (for previews); false = cancel.
    std::function<bool(int step, int total, const at::Tensor& denoised)> after_step;
};
// Runs len(sigmas) - 1 steps from x (already scaled to sigmas[0]); undefined tensor if cancelled.
at::Tensor RunSampler(SamplerKind kind, const std::vector<double>& sigmas, at::Tensor x, const SamplerHooks& hooks);

}  // namespace labhouse::engine
