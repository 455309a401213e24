#include "labhouse/pix2pix/internal/networks.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace labhouse::pix2pix::internal {

namespace {

int64_t Filters(int base, int level) { return static_cast<int64_t>(base) * std::min(1 << std::min(level, 3), 8); }

torch::nn::Conv2dOptions Conv(int64_t in, int64_t out, int64_t stride, bool bias) {
    return torch::nn::Conv2dOptions(in, out, 4).stride(stride).padding(1).bias(bias);
}

torch::nn::ConvTranspose2dOptions ConvT(int64_t in, int64_t out, bool bias) {
    return torch::nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1).bias(bias);
}

}  // namespace

BatchStatNormImpl::BatchStatNormImpl(int64_t channels) {
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor BatchStatNormImpl::forward(const torch::Tensor& x) {
    // training=true with no running stats: always the batch's own mean and variance.
    return torch::batch_norm(x, weight, bias, /*running_mean=*/{}, /*running_var=*/{}, /*training=*/true,
                             /*momentum=*/0.1, /*eps=*/1e-5, /*cudnn_enabled=*/false);
}

UnetGeneratorImpl::UnetGeneratorImpl(const Pix2PixConfig& config) : depth_(config.depth) {
    const int ngf = config.base_filters;
    // Encoder. With norm=batch the reference builds every conv without bias (use_bias is only
    // true for instance norm); only the outermost ConvTranspose keeps one.
    for (int i = 0; i < depth_; ++i) {
        const int64_t in = i == 0 ? 3 : Filters(ngf, i - 1);
        down_.push_back(
            register_module("down" + std::to_string(i), torch::nn::Conv2d(Conv(in, Filters(ngf, i), 2, false))));
        const bool has_norm = i > 0 && i < depth_ - 1;
        down_norm_.push_back(has_norm ? register_module("down_norm" + std::to_string(i), BatchStatNorm(Filters(ngf, i)))
                                      : BatchStatNorm(nullptr));
    }
    // Decoder, indexed by the encoder level it mirrors. The innermost takes the bottleneck alone,
    // every other level the concatenation of its skip and the level below (twice the channels).
    up_.resize(depth_, torch::nn::ConvTranspose2d(nullptr));
    up_norm_.resize(depth_, BatchStatNorm(nullptr));
    dropout_.assign(depth_, false);
    for (int i = depth_ - 1; i >= 0; --i) {
        const int64_t in = i == depth_ - 1 ? Filters(ngf, i) : 2 * Filters(ngf, i);
        const int64_t out = i == 0 ? 3 : Filters(ngf, i - 1);
        up_[i] = register_module("up" + std::to_string(i), torch::nn::ConvTranspose2d(ConvT(in, out, i == 0)));
        if (i > 0) up_norm_[i] = register_module("up_norm" + std::to_string(i), BatchStatNorm(out));
        // UnetGenerator: the num_downs - 5 blocks between the innermost and the four outer ones
        // (levels 4 .. depth-2, all ngf*8 wide) use dropout.
        dropout_[i] = config.dropout && i >= 4 && i <= depth_ - 2;
    }
}

torch::Tensor UnetGeneratorImpl::forward(torch::Tensor x) {
    std::vector<torch::Tensor> skips;
    skips.reserve(depth_);
    x = down_[0]->forward(x);
    skips.push_back(x);
    for (int i = 1; i < depth_; ++i) {
        x = torch::leaky_relu(x, 0.2);
        x = down_[i]->forward(x);
        if (down_norm_[i]) x = down_norm_[i]->forward(x);
        skips.push_back(x);
    }
    for (int i = depth_ - 1; i >= 1; --i) {
        x = up_norm_[i]->forward(up_[i]->forward(torch::relu(x)));
        if (dropout_[i]) x = torch::dropout(x, 0.5, is_training() && stochastic);
        x = torch::cat({skips[i - 1], x}, 1);  // UnetSkipConnectionBlock: torch.cat([x, model(x)], 1)
    }
    return torch::tanh(up_[0]->forward(torch::relu(x)));
}

PatchDiscriminatorImpl::PatchDiscriminatorImpl(const Pix2PixConfig& config) {
    const int ndf = config.base_filters;
    const int n_layers = config.discriminator_layers;
    layers_ = register_module("layers", torch::nn::Sequential());
    layers_->push_back(torch::nn::Conv2d(Conv(6, ndf, 2, true)));
    layers_->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)));
    int64_t previous = ndf;
    for (int n = 1; n <= n_layers; ++n) {
        const int64_t filters = Filters(ndf, n);
        const int64_t stride = n < n_layers ? 2 : 1;  // the last Ck has stride 1
        layers_->push_back(torch::nn::Conv2d(Conv(previous, filters, stride, false)));
        layers_->push_back(BatchStatNorm(filters));
        layers_->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)));
        previous = filters;
    }
    layers_->push_back(torch::nn::Conv2d(Conv(previous, 1, 1, true)));  // logits; BCEWithLogits in the loss
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& condition, const torch::Tensor& target) {
    return layers_->forward(torch::cat({condition, target}, 1));
}

void InitWeights(torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    for (auto& child : module.modules(/*include_self=*/true)) {
        if (auto* conv = child->as<torch::nn::Conv2d>()) {
            conv->weight.normal_(0.0, 0.02);
            if (conv->bias.defined()) conv->bias.zero_();
        } else if (auto* convt = child->as<torch::nn::ConvTranspose2d>()) {
            convt->weight.normal_(0.0, 0.02);
            if (convt->bias.defined()) convt->bias.zero_();
        } else if (auto* norm = child->as<BatchStatNorm>()) {
            norm->weight.normal_(1.0, 0.02);
            norm->bias.zero_();
        }
    }
}

torch::Tensor ImageToTensor(const Image& image) {
    auto bytes =
        torch::from_blob(const_cast<std::uint8_t*>(image.rgb.data()), {image.height, image.width, 3}, torch::kUInt8);
    return bytes.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32).div(127.5).sub(1.0);
}

Image TensorToImage(const torch::Tensor& tensor) {
    auto bytes = tensor.detach()
                     .squeeze(0)
                     .add(1.0)
                     .mul(127.5)
                     .round()
                     .clamp(0, 255)
                     .to(torch::kUInt8)
                     .permute({1, 2, 0})
                     .contiguous();
    Image image{static_cast<int>(bytes.size(1)), static_cast<int>(bytes.size(0)), {}};
    image.rgb.resize(image.ByteSize());
    std::memcpy(image.rgb.data(), bytes.data_ptr<std::uint8_t>(), image.rgb.size());
    return image;
}

}  // namespace labhouse::pix2pix::internal
