// Both SDXL text encoders (sdxl-reference.md section 3): embedder 0 = OpenAI CLIP ViT-L/14 text
// model in Hugging Face `CLIPTextModel` names (quick_gelu), embedder 1 = OpenCLIP ViT-bigG/14 text
// tower in open_clip names (GELU, packed in_proj). Both: pre-LN blocks with a causal mask, no
// padding mask; the UNet context is the penultimate layer's output WITHOUT a final LayerNorm; the
// pooled vector (bigG only) is ln_final(last layer)[argmax ids] @ text_projection (open_clip
// right-multiplies).
#include "labhouse/engine/internal/torch_common.h"

namespace labhouse::engine {
namespace {

at::Tensor CausalMask(int64_t n, const at::TensorOptions& options) {
    // open_clip build_attention_mask: -inf above the diagonal.
    return at::full({n, n}, -std::numeric_limits<float>::infinity(), options).triu_(1);
}

at::Tensor Embed(const W& w, const std::string& name, const at::Tensor& ids, const WeightStore& store) {
    // Gather rows in the file dtype first: the bigG table is 49408 x 1280, no need to convert all of it.
    at::Tensor rows = w.Raw(name).index_select(0, ids.flatten().to(at::kCPU));
    return rows.to(store.device(), store.dtype()).view({ids.size(0), ids.size(1), -1});
}

at::Tensor HfLayer(const W& w, const at::Tensor& x_in, int heads, const at::Tensor& mask) {
    at::Tensor x = x_in;
    at::Tensor h = LayerNorm(w, "layer_norm1", x);
    at::Tensor q = SplitHeads(Linear(w, "self_attn.q_proj", h), heads);
    at::Tensor k = SplitHeads(Linear(w, "self_attn.k_proj", h), heads);
    at::Tensor v = SplitHeads(Linear(w, "self_attn.v_proj", h), heads);
    x = x + Linear(w, "self_attn.out_proj", Attention(q, k, v, mask));
    h = Linear(w, "mlp.fc1", LayerNorm(w, "layer_norm2", x));
    h = h * at::sigmoid(h * 1.702);  // quick_gelu
    return x + Linear(w, "mlp.fc2", h);
}

at::Tensor OpenClipLayer(const W& w, const at::Tensor& x_in, int heads, const at::Tensor& mask) {
    at::Tensor x = x_in;
    at::Tensor h = LayerNorm(w, "ln_1", x);
    // nn.MultiheadAttention packing: rows [0,W) = q, [W,2W) = k, [2W,3W) = v.
    at::Tensor qkv = LinearNamed(w, "attn.in_proj_weight", "attn.in_proj_bias", h);
    auto parts = qkv.chunk(3, -1);
    at::Tensor a =
        Attention(SplitHeads(parts[0], heads), SplitHeads(parts[1], heads), SplitHeads(parts[2], heads), mask);
    x = x + Linear(w, "attn.out_proj", a);
    h = at::gelu(Linear(w, "mlp.c_fc", LayerNorm(w, "ln_2", x)));
    return x + Linear(w, "mlp.c_proj", h);
}

}  // namespace

TextEncoderOutput RunClipText(const WeightStore& weights, const ClipTextConfig& config, const at::Tensor& ids_in) {
    const at::Tensor ids = ids_in.to(at::kLong);
    const int64_t n = ids.size(1);
    const auto options = at::TensorOptions().dtype(weights.dtype()).device(weights.device());
    const at::Tensor mask = CausalMask(n, options);
    TextEncoderOutput out;
    if (!config.open_clip_names) {
        const W w = weights.Under(kClipLPrefix);
        at::Tensor x = Embed(w, "embeddings.token_embedding.weight", ids, weights) +
                       w("embeddings.position_embedding.weight").narrow(0, 0, n).unsqueeze(0);
        // hidden_states[layers - 1]: the output of all but the last layer (sgm layer_idx 11 of 12).
        for (int l = 0; l + 1 < config.layers; ++l)
            x = HfLayer(w.Sub("encoder.layers." + std::to_string(l)), x, config.heads(), mask);
        out.hidden = x;
        return out;
    }
    const W w = weights.Under(kClipGPrefix);
    at::Tensor x =
        Embed(w, "token_embedding.weight", ids, weights) + w("positional_embedding").narrow(0, 0, n).unsqueeze(0);
    for (int l = 0; l + 1 < config.layers; ++l) {
        x = OpenClipLayer(w.Sub("transformer.resblocks." + std::to_string(l)), x, config.heads(), mask);
    }
    out.hidden = x;  // penultimate, no ln_final (legacy=False)
    at::Tensor last =
        OpenClipLayer(w.Sub("transformer.resblocks." + std::to_string(config.layers - 1)), x, config.heads(), mask);
    last = LayerNorm(w, "ln_final", last);
    // Pool at the EOT token: the largest id (argmax, first occurrence).
    const at::Tensor eot = ids.argmax(-1).to(at::kCPU);
    std::vector<at::Tensor> rows;
    for (int64_t b = 0; b < ids.size(0); ++b) rows.push_back(last[b][eot[b].item<int64_t>()]);
    const at::Tensor pooled = at::stack(rows);
    out.pooled = at::matmul(pooled, w("text_projection"));
    return out;
}

}  // namespace labhouse::engine
