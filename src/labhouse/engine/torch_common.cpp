// The weight store and the shared building blocks of the engine's modules. Math mirrors the
// PyTorch modules sgm uses (nn.Linear, nn.Conv2d, GroupNorm32, nn.LayerNorm, attention in
// sgm/modules/attention.py without a mask).
#include "labhouse/engine/internal/torch_common.h"

#include <c10/core/InferenceMode.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "labhouse/engine/cpu_kernels.h"

namespace labhouse::engine {
namespace {

at::ScalarType ToTorch(DType dtype) {
    switch (dtype) {
        case DType::kF16:
            return at::kHalf;
        case DType::kBF16:
            return at::kBFloat16;
        case DType::kF32:
            return at::kFloat;
        case DType::kF64:
            return at::kDouble;
        case DType::kI64:
            return at::kLong;
        case DType::kI32:
            return at::kInt;
        case DType::kI16:
            return at::kShort;
        case DType::kI8:
            return at::kChar;
        case DType::kU8:
            return at::kByte;
        case DType::kBool:
            return at::kBool;
    }
    return at::kFloat;
}

// f16/bf16 -> f32 with the engine's kernels, split across threads; other conversions through ATen.
// n f16 (kHalf) or bf16 (kBFloat16) values -> fp32, with the vectorised kernels.
void ConvertToFloat(at::ScalarType type, const std::uint16_t* in, float* out, std::size_t n) {
    if (type == at::kHalf) {
        kernels::HalfToFloat(in, out, n);
    } else {
        kernels::BFloat16ToFloat(in, out, n);
    }
}

at::Tensor ToFloat32(const at::Tensor& raw) {
    const auto type = raw.scalar_type();
    if ((type != at::kHalf && type != at::kBFloat16) || !raw.is_contiguous()) return raw.to(at::kFloat);
    at::Tensor out = at::empty(raw.sizes(), raw.options().dtype(at::kFloat));
    const auto* in = static_cast<const std::uint16_t*>(raw.data_ptr());
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, raw.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        ConvertToFloat(type, in + begin, dst + begin, static_cast<std::size_t>(end - begin));
    });
    return out;
}

// Drops the mapped file pages of a tensor from this process's resident set (they stay in the page
// cache and fault back in if read again): after fast mode's conversion the f16 originals would
// otherwise count ~7 GB on top of the fp32 copies.
void DropMappedPages(const SourceTensor& tensor) {
    static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    for (const auto& [file, info] : tensor.parts) {
        const auto begin = reinterpret_cast<std::uintptr_t>(file->Data(*info));
        const std::uintptr_t first = (begin + page - 1) / page * page;
        const std::uintptr_t last = (begin + (info->end - info->begin)) / page * page;
        if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
}

// Maps the file pages of a tensor into the page tables in one call (MADV_POPULATE_READ, Linux
// 5.14+; ignored where unsupported) instead of one minor fault per 4 KiB on first touch.
void PopulateMappedPages(const SourceTensor& tensor) {
#ifdef MADV_POPULATE_READ
    static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    for (const auto& [file, info] : tensor.parts) {
        const auto begin = reinterpret_cast<std::uintptr_t>(file->Data(*info));
        const std::uintptr_t first = begin / page * page;
        const std::uintptr_t last = (begin + (info->end - info->begin) + page - 1) / page * page;
        if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_READ);
    }
#else
    (void)tensor;
#endif
}

// Elements [first, first + count) of a stored f16/bf16/f32 tensor, as fp32 into dst: read from the
// file in 512 KiB pieces through a per-thread staging buffer (it stays in cache) and converted.
void ReadAsFloat(const FileSlice& slice, at::ScalarType type, int64_t first, int64_t count, float* dst) {
    auto read = [&](int64_t offset, int64_t bytes, void* out) {
        if (!slice.file->ReadData(*slice.info, static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(bytes),
                                  out))
            throw std::runtime_error("cannot read weight '" + slice.info->name + "' from the checkpoint");
    };
    if (type == at::kFloat) {
        read(first * 4, count * 4, dst);
        return;
    }
    constexpr int64_t kPiece = 1 << 18;
    thread_local std::vector<std::uint16_t> staging;
    if (staging.size() < static_cast<std::size_t>(kPiece)) staging.resize(kPiece);
    for (int64_t done = 0; done < count; done += kPiece) {
        const int64_t len = std::min(kPiece, count - done);
        read((first + done) * 2, len * 2, staging.data());
        ConvertToFloat(type, staging.data(), dst + done, static_cast<std::size_t>(len));
    }
}

at::Tensor ReadToFloat32(const FileSlice& slice, at::ScalarType type) {
    std::vector<int64_t> shape(slice.info->shape.begin(), slice.info->shape.end());
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        ReadAsFloat(slice, type, begin, end - begin, dst + begin);
    });
    return out;
}

at::Tensor ToCompute(const at::Tensor& raw, at::Device device, at::ScalarType dtype) {
    if (device.is_cpu() && dtype == at::kFloat) return ToFloat32(raw);
    return raw.to(device, dtype);
}

}  // namespace

WeightStore::WeightStore(std::shared_ptr<const CheckpointSource> source, at::Device device,
                         at::ScalarType compute_dtype, bool preconvert)
    : source_(std::move(source)), device_(device), dtype_(compute_dtype) {
    const bool needs_copy = device_.type() != at::kCPU;  // weights must live on the accelerator
    if (!preconvert && !needs_copy) return;
    for (const auto& [name, info] : source_->tensors()) {
        if (IsIgnoredTensor(name)) continue;
        converted_[name] = ToCompute(Raw(name), device_, dtype_).contiguous();
        DropMappedPages(*source_->Find(name));
    }
}

void WeightStore::DropMapped(const std::string& prefix) const {
    for (const auto& [name, info] : source_->tensors()) {
        if (name.rfind(prefix, 0) != 0 || converted_.count(name) != 0) continue;
        if (const SourceTensor* tensor = source_->Find(name)) DropMappedPages(*tensor);
    }
}

FileSlice WeightStore::ReadableSlice(const std::string& name) const {
    if (!converts_per_use()) return {};
    const SourceTensor* tensor = source_->Find(name);
    if (tensor == nullptr || tensor->op != SourceTensor::Op::kDirect) return {};
    const DType type = tensor->parts[0].second->dtype;
    if (type != DType::kF16 && type != DType::kBF16 && type != DType::kF32) return {};
    return {tensor->parts[0].first, tensor->parts[0].second};
}

void WeightStore::PopulateMapped(const std::string& prefix) const {
    for (const auto& [name, info] : source_->tensors()) {
        if (name.rfind(prefix, 0) != 0 || converted_.count(name) != 0 || ReadableSlice(name).file != nullptr) continue;
        if (const SourceTensor* tensor = source_->Find(name)) PopulateMappedPages(*tensor);
    }
}

at::Tensor WeightStore::Raw(const std::string& name) const {
    const SourceTensor* tensor = source_->Find(name);
    if (tensor == nullptr) throw std::runtime_error("weight '" + name + "' is not in the checkpoint");
    auto view = [](const SafetensorsFile* file, const TensorInfo* info) {
        std::vector<int64_t> shape(info->shape.begin(), info->shape.end());
        void* data = const_cast<std::uint8_t*>(file->Data(*info));
        const auto element = static_cast<std::uintptr_t>(DTypeSize(info->dtype));
        at::Tensor t = at::from_blob(data, shape, at::TensorOptions().dtype(ToTorch(info->dtype)));
        // The mapping is read-only and may be unaligned for the element size: copy in that case.
        return reinterpret_cast<std::uintptr_t>(data) % element != 0 ? t.clone() : t;
    };
    switch (tensor->op) {
        case SourceTensor::Op::kDirect:
            return view(tensor->parts[0].first, tensor->parts[0].second);
        case SourceTensor::Op::kConcatRows: {
            std::vector<at::Tensor> parts;
            for (const auto& [file, info] : tensor->parts) parts.push_back(view(file, info));
            return at::cat(parts, 0);
        }
        case SourceTensor::Op::kTranspose:
            return view(tensor->parts[0].first, tensor->parts[0].second).t();
    }
    throw std::runtime_error("weight '" + name + "': unknown source layout");
}

at::Tensor WeightStore::Get(const std::string& name) const {
    if (auto it = converted_.find(name); it != converted_.end()) return it->second;
    if (const FileSlice slice = ReadableSlice(name); slice.file != nullptr)
        return ReadToFloat32(slice, ToTorch(slice.info->dtype));
    return ToCompute(Raw(name), device_, dtype_);
}

at::Tensor Linear(const W& w, const std::string& name, const at::Tensor& x, bool bias) {
    return LinearNamed(w, name + ".weight", bias ? name + ".bias" : std::string(), x);
}

at::Tensor LinearNamed(const W& w, const std::string& weight_name, const std::string& bias_name, const at::Tensor& x) {
    const at::Tensor bias = bias_name.empty() ? at::Tensor() : w(bias_name);
    if (x.scalar_type() != at::kFloat || !x.device().is_cpu()) return at::linear(x, w(weight_name), bias);
    const WeightStore& store = *w.store();
    at::Tensor stored;
    FileSlice slice;
    if (store.converts_per_use()) {
        // Rows read from the file: the weight argument is then a storage-less meta tensor giving
        // dtype and shape (a view of the mapping could be a copy when unaligned).
        slice = w.ReadableSlice(weight_name);
        stored = slice.file != nullptr
                     ? at::empty(std::vector<int64_t>(slice.info->shape.begin(), slice.info->shape.end()),
                                 at::TensorOptions().dtype(ToTorch(slice.info->dtype)).device(at::kMeta))
                     : w.Raw(weight_name);
    } else {
        stored = w(weight_name);  // fast mode: fp32, converted at load
    }
    const auto type = stored.scalar_type();
    if (stored.dim() == 2 && stored.is_contiguous() && (stored.device().is_cpu() || slice.file != nullptr) &&
        (type == at::kFloat || type == at::kHalf || type == at::kBFloat16))
        return LinearFromStored(x, stored, bias, slice);
    return at::linear(x, w(weight_name), bias);
}

namespace {
// Up to this many rows LinearFromStored uses kernels::GemmNT rather than oneDNN (sdxl_micro).
constexpr int64_t kGemmNTMaxRows = 160;
}  // namespace

at::Tensor OnednnLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && weight.dim() == 2 && weight.is_contiguous() &&
                    x.size(1) == weight.size(1),
                "OnednnLinear: contiguous [M, K] input and [N, K] weight expected");
    const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
    // [M, K] rows are the pixels of a 1 x M image with K channels in channels-last order, and
    // [N, K] is an N x K x 1 x 1 kernel: both are views, and the result comes back channels-last,
    // i.e. as the [M, N] rows.
    const at::Tensor image = x.view({1, 1, m, k}).permute({0, 3, 1, 2});
    const at::Tensor y = at::mkldnn_convolution(image, weight.view({n, k, 1, 1}),
                                                bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt,
                                                {0, 0}, {1, 1}, {1, 1}, 1);
    return y.permute({0, 2, 3, 1}).reshape({m, n});
}

at::Tensor LinearFromStored(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            FileSlice source) {
    const auto type = weight.scalar_type();
    TORCH_CHECK(x.scalar_type() == at::kFloat && x.device().is_cpu(), "LinearFromStored: fp32 CPU input expected");
    TORCH_CHECK(weight.dim() == 2 && weight.is_contiguous() &&
                    (weight.device().is_cpu() || (source.file != nullptr && weight.is_meta())) &&
                    (type == at::kHalf || type == at::kBFloat16 || type == at::kFloat),
                "LinearFromStored: contiguous 2-D f16/bf16/f32 CPU weight expected");
    const int64_t n = weight.size(0), k = weight.size(1);
    TORCH_CHECK(x.dim() >= 1 && x.size(-1) == k, "LinearFromStored: input has ", x.size(-1), " features, weight ", k);
    TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == n), "LinearFromStored: bias must be [", n, "]");
    TORCH_CHECK(source.file == nullptr || (ToTorch(source.info->dtype) == type && source.info->Numel() == n * k),
                "LinearFromStored: the file slice does not hold a ", type, " [", n, ", ", k, "] weight");
    const at::Tensor x2 = x.reshape({-1, k}).contiguous();
    const int64_t m = x2.size(0);
    std::vector<int64_t> out_sizes(x.sizes().begin(), x.sizes().end());
    out_sizes.back() = n;
    at::Tensor out = at::empty({m, n}, x2.options());
    if (m == 0 || n == 0) return out.view(out_sizes);
    if (k == 0) return (bias.defined() ? out.copy_(bias.to(at::kFloat).expand({m, n})) : out.zero_()).view(out_sizes);
    const at::Tensor b32 = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
    // Few rows (the text encoders' 77 tokens): GemmNT on blocks of ~384 KB of fp32 weight rows,
    // each read back from cache right after its conversion wrote it. More rows: two blocks per
    // thread (multiples of 16 rows) for oneDNN or the sgemm, few calls so that their per-call
    // costs (oneDNN re-lays the weight block out, OpenBLAS repacks the whole input) stay small.
    const int64_t threads = at::get_num_threads();
    const bool small_m = m <= kGemmNTMaxRows && kernels::GemmNTBestBuild() != kernels::GemmNTBuild::kBase;
    const int64_t rows = small_m ? std::max<int64_t>(6, (384 << 10) / (4 * k) / 6 * 6)
                                 : std::max<int64_t>(16, ((n + 2 * threads - 1) / (2 * threads) + 15) / 16 * 16);
    const int64_t blocks = (n + rows - 1) / rows;
    // Blocks are taken from a shared counter rather than split evenly up front: on a shared machine
    // a thread that loses its core then does fewer blocks instead of holding up the others.
    const bool onednn = at::hasMKLDNN();
    std::atomic<int64_t> next{0};
    at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
        c10::InferenceMode guard;  // thread-local: the pool's threads do not inherit it
        const bool read_file = source.file != nullptr;
        at::Tensor buffer = type == at::kFloat && !read_file ? at::Tensor() : at::empty({rows, k}, x2.options());
        for (int64_t block = next++; block < blocks; block = next++) {
            const int64_t first = block * rows, len = std::min(rows, n - first);
            at::Tensor w32;
            if (read_file) {
                ReadAsFloat(source, type, first * k, len * k, buffer.data_ptr<float>());
                w32 = buffer.narrow(0, 0, len);
            } else if (type == at::kFloat) {
                w32 = weight.narrow(0, first, len);
            } else {
                const auto* src = static_cast<const std::uint16_t*>(weight.data_ptr()) + first * k;
                ConvertToFloat(type, src, buffer.data_ptr<float>(), static_cast<std::size_t>(len * k));
                w32 = buffer.narrow(0, 0, len);
            }
            at::Tensor dst = out.narrow(1, first, len);  // row stride n: the sgemm writes with ldc = n
            if (small_m) {
                kernels::GemmNT(x2.data_ptr<float>(), m, k, w32.data_ptr<float>(), len,
                                b32.defined() ? b32.data_ptr<float>() + first : nullptr, out.data_ptr<float>() + first,
                                n);
            } else if (onednn) {
                dst.copy_(OnednnLinear(x2, w32, b32.defined() ? b32.narrow(0, first, len) : at::Tensor()));
            } else if (b32.defined()) {
                // beta = 1 on the bias rows: one pass over the cache-resident output block.
                dst.copy_(b32.narrow(0, first, len).expand({m, len}));
                at::addmm_out(dst, dst, x2, w32.t());
            } else {
                at::mm_out(dst, x2, w32.t());
            }
        }
    });
    return out.view(out_sizes);
}

at::Tensor Conv(const W& w, const std::string& name, const at::Tensor& x, int stride, int padding) {
    at::Tensor weight = w(name + ".weight");
    if (padding < 0) padding = static_cast<int>(weight.size(2) / 2);
    return at::conv2d(x, weight, w(name + ".bias"), {stride, stride}, {padding, padding});
}

at::Tensor GroupNorm(const W& w, const std::string& name, const at::Tensor& x, double eps) {
    // sgm GroupNorm32 runs in float32 and casts back (matters for fp16 compute): GroupNormAct does.
    return GroupNormAct(x, w(name + ".weight"), w(name + ".bias"), eps, false);
}

at::Tensor GroupNormSilu(const W& w, const std::string& name, const at::Tensor& x, double eps) {
    return GroupNormAct(x, w(name + ".weight"), w(name + ".bias"), eps, true);
}

at::Tensor GroupNormAct(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, double eps, bool silu) {
    // ATen's kernel, in fp32, keeping the input's memory format (channels-last in the UNet and VAE).
    // It was slow here only through page faults on its output and spinning OpenMP threads, both
    // handled elsewhere (cpu_allocator.h, OMP_WAIT_POLICY=passive in docs/engine.md).
    at::Tensor y = at::group_norm(x.to(at::kFloat), 32, gamma.to(at::kFloat), beta.to(at::kFloat), eps);
    if (silu) at::silu_(y);
    return y.to(x.scalar_type());
}

at::Tensor LayerNorm(const W& w, const std::string& name, const at::Tensor& x, double eps) {
    return at::layer_norm(x, {x.size(-1)}, w(name + ".weight"), w(name + ".bias"), eps);
}

at::Tensor SplitHeads(const at::Tensor& x, int heads) {
    const auto b = x.size(0), n = x.size(1), c = x.size(2);
    return x.view({b, n, heads, c / heads}).permute({0, 2, 1, 3});
}

at::Tensor MergeHeads(const at::Tensor& x) {
    const auto b = x.size(0), h = x.size(1), n = x.size(2), d = x.size(3);
    return x.permute({0, 2, 1, 3}).reshape({b, n, h * d});
}

at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    const int64_t batch = q.size(0), heads = q.size(1), n = q.size(2), m = k.size(2), dv = v.size(3);
    if (q.scalar_type() != at::kFloat || !q.device().is_cpu()) {
        at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).mul_(scale);
        if (mask.defined()) scores.add_(mask);
        return MergeHeads(at::matmul(at::softmax(scores, -1), v));
    }
    at::Tensor out = at::empty({batch, n, heads * dv}, q.options());
    const at::Tensor out4 = out.view({batch, n, heads, dv});
    // Query chunks whose [chunk, m] score block is ~1 MiB (cache-resident, yet tall enough for an
    // efficient sgemm).
    const int64_t chunk = std::clamp<int64_t>((256 << 10) / std::max<int64_t>(m, 1), 32, std::max<int64_t>(n, 32));
    const int64_t chunks = (n + chunk - 1) / chunk;
    const at::Tensor mask2 = mask.defined() ? mask.to(at::kFloat).reshape({-1, mask.size(-2), m}) : at::Tensor();
    at::parallel_for(0, batch * heads * chunks, 1, [&](int64_t begin, int64_t end) {
        c10::InferenceMode guard;  // thread-local: the pool's threads do not inherit it
        at::Tensor block = at::empty({chunk, m}, q.options());
        for (int64_t task = begin; task < end; ++task) {
            const int64_t b = task / (heads * chunks), h = (task / chunks) % heads, c = task % chunks;
            const int64_t start = c * chunk, len = std::min(chunk, n - start);
            at::Tensor scores = block.narrow(0, 0, len);
            at::mm_out(scores, q[b][h].narrow(0, start, len), k[b][h].t());
            scores.mul_(scale);
            if (mask2.defined()) scores.add_(mask2[mask2.size(0) == 1 ? 0 : b].narrow(0, start, len));
            kernels::SoftmaxRows(scores.data_ptr<float>(), static_cast<std::size_t>(len), static_cast<std::size_t>(m),
                                 static_cast<std::size_t>(m));
            at::Tensor dst = out4[b].narrow(0, start, len).select(1, h);
            at::mm_out(dst, scores, v[b][h]);
        }
    });
    return out;
}

at::Tensor TimestepEmbedding(const at::Tensor& t, int dim) {
    const int half = dim / 2;
    at::Tensor freqs =
        at::exp(at::arange(half, at::TensorOptions().dtype(at::kFloat)) * (-std::log(10000.0) / half)).to(t.device());
    at::Tensor args = t.to(at::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
    at::Tensor emb = at::cat({at::cos(args), at::sin(args)}, 1);
    if (dim % 2 == 1) emb = at::cat({emb, at::zeros({emb.size(0), 1}, emb.options())}, 1);
    return emb;
}

}  // namespace labhouse::engine
