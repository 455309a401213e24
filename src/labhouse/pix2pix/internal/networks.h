// The pix2pix networks as libtorch modules. Internal: included only by this library's .cpp files.
// Layer by layer they mirror models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix
// (UnetGenerator / UnetSkipConnectionBlock, NLayerDiscriminator) with norm=batch.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "labhouse/pix2pix/pix2pix.h"

namespace labhouse::pix2pix::internal {

// BatchNorm2d(affine) that always normalises with the statistics of the batch it is given and
// keeps no running averages. The paper runs its generator in train mode at test time too, so
// these are the only statistics it ever uses; with batch size 1 this is instance normalisation
// with a learned scale and shift (pix2pix-faces.md A3, the "inference gotcha").
class BatchStatNormImpl : public torch::nn::Module {
public:
    explicit BatchStatNormImpl(int64_t channels);
    torch::Tensor forward(const torch::Tensor& x);

    torch::Tensor weight;
    torch::Tensor bias;
};
TORCH_MODULE(BatchStatNorm);

// U-Net generator. Encoder Ck = LeakyReLU(0.2)-Conv(4, s2)-Norm, first block without norm, the
// innermost without norm; decoder = ReLU-ConvT(4, s2)-Norm[-Dropout], concatenated as
// cat([skip, x]); last = ReLU-ConvT(bias)-Tanh. Channels ngf * min(2^i, 8).
class UnetGeneratorImpl : public torch::nn::Module {
public:
    explicit UnetGeneratorImpl(const Pix2PixConfig& config);
    torch::Tensor forward(torch::Tensor x);

    // Dropout happens only while training *and* when this is set; Generate clears it so inference
    // is deterministic.
    bool stochastic = true;

private:
    int depth_;
    std::vector<bool> dropout_;  // per decoder level
    std::vector<torch::nn::Conv2d> down_;
    std::vector<BatchStatNorm> down_norm_;  // empty holder where there is no norm
    std::vector<torch::nn::ConvTranspose2d> up_;
    std::vector<BatchStatNorm> up_norm_;
};
TORCH_MODULE(UnetGenerator);

// PatchGAN: C64(no norm)-C128-C256 with stride 2, C512 with stride 1, then a 1-channel conv with
// stride 1: every output logit sees a 70x70 patch of the 6-channel input cat([A, B]).
class PatchDiscriminatorImpl : public torch::nn::Module {
public:
    explicit PatchDiscriminatorImpl(const Pix2PixConfig& config);
    torch::Tensor forward(const torch::Tensor& condition, const torch::Tensor& target);

private:
    torch::nn::Sequential layers_;
};
TORCH_MODULE(PatchDiscriminator);

// The reference's init_weights(init_type="normal", gain=0.02).
void InitWeights(torch::nn::Module& module);

// Image (HWC RGB uint8) <-> tensor (1x3xHxW float in [-1, 1]).
torch::Tensor ImageToTensor(const Image& image);
Image TensorToImage(const torch::Tensor& tensor);

}  // namespace labhouse::pix2pix::internal
