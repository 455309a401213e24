// The weight store and the shared building blocks of the engine's modules. Math mirrors the
// PyTorch modules sgm uses (nn.Linear, nn.Conv2d, GroupNorm32, nn.LayerNorm, attention in
// sgm/modules/attention.py without a mask).
#include "labhouse/engine/internal/torch_common.h"

#include <cmath>
#include <stdexcept>

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

}  // namespace

WeightStore::WeightStore(std::shared_ptr<const CheckpointSource> source, at::Device device,
                         at::ScalarType compute_dtype, bool preconvert)
    : source_(std::move(source)), device_(device), dtype_(compute_dtype) {
    const bool needs_copy = device_.type() != at::kCPU;  // weights must live on the accelerator
    if (!preconvert && !needs_copy) return;
    for (const auto& [name, info] : source_->tensors()) {
        if (IsIgnoredTensor(name)) continue;
        converted_[name] = Raw(name).to(device_, dtype_).contiguous();
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
    return Raw(name).to(device_, dtype_);
}

at::Tensor Linear(const W& w, const std::string& name, const at::Tensor& x, bool bias) {
    return at::linear(x, w(name + ".weight"), bias ? w(name + ".bias") : at::Tensor());
}

at::Tensor Conv(const W& w, const std::string& name, const at::Tensor& x, int stride, int padding) {
    at::Tensor weight = w(name + ".weight");
    if (padding < 0) padding = static_cast<int>(weight.size(2) / 2);
    return at::conv2d(x, weight, w(name + ".bias"), {stride, stride}, {padding, padding});
}

at::Tensor GroupNorm(const W& w, const std::string& name, const at::Tensor& x, double eps) {
    // sgm GroupNorm32 runs in float32 and casts back (matters for fp16 compute).
    const auto dtype = x.scalar_type();
    at::Tensor y =
        at::group_norm(x.to(at::kFloat), 32, w(name + ".weight").to(at::kFloat), w(name + ".bias").to(at::kFloat), eps);
    return y.to(dtype);
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
    const at::Tensor kt = k.transpose(-1, -2).contiguous();
    const int64_t n = q.size(2);
    // Chunk the queries so the [chunk, N] score block stays around 16 MB per head batch.
    const int64_t per_row = q.size(0) * q.size(1) * k.size(2);
    const int64_t chunk = std::max<int64_t>(64, (4 << 20) / std::max<int64_t>(per_row, 1));
    if (chunk >= n) {
        at::Tensor scores = at::matmul(q, kt).mul_(scale);
        if (mask.defined()) scores.add_(mask);
        return at::matmul(at::softmax(scores, -1), v);
    }
    std::vector<at::Tensor> parts;
    for (int64_t start = 0; start < n; start += chunk) {
        const int64_t len = std::min(chunk, n - start);
        at::Tensor scores = at::matmul(q.narrow(2, start, len), kt).mul_(scale);
        if (mask.defined()) scores.add_(mask.narrow(-2, start, len));
        parts.push_back(at::matmul(at::softmax(scores, -1), v));
    }
    return at::cat(parts, 2);
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
