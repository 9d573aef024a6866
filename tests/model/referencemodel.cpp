#include "model/referencemodel.h"

#include <algorithm>
#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/erf.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/full.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/sqrt.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tanh.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

namespace corolla::reference {

namespace {

at::Tensor weight(const Weights &weights, const std::string &name)
{
    return weights.at(name).to(at::kDouble);
}

at::Tensor maybe(const Weights &weights, const std::string &name)
{
    const auto it = weights.find(name);
    return it == weights.end() ? at::Tensor() : it->second.to(at::kDouble);
}

// x W^T + b
at::Tensor project(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b = {})
{
    at::Tensor y = at::matmul(x, w.t());
    return b.defined() ? y + b : y;
}

// x / sqrt(mean(x^2) + eps) * w, row by row.
at::Tensor rmsNorm(const at::Tensor &x, const at::Tensor &w, double eps)
{
    return x / at::sqrt((x * x).mean({-1}, true) + eps) * w;
}

// (x - mean) / sqrt(var + eps) * w + b with the biased variance.
at::Tensor layerNorm(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b, double eps)
{
    const at::Tensor centred = x - x.mean({-1}, true);
    return centred / at::sqrt((centred * centred).mean({-1}, true) + eps) * w + b;
}

// Gemma's RMSNorm: the stored weight is the scale minus one.
at::Tensor gemmaNorm(const at::Tensor &x, const at::Tensor &w, double eps)
{
    return rmsNorm(x, 1.0 + w, eps);
}

// One rotary frequency per pair of dimensions, with Llama 3.1's band-wise scaling.
std::vector<double> rotaryFrequencies(const RopeConfig &rope, std::int64_t headDim)
{
    std::vector<double> frequencies;
    for (std::int64_t i = 0; i < headDim / 2; ++i) {
        double f = 1.0 / std::pow(rope.theta, double(2 * i) / double(headDim));
        if (rope.scaling == RopeConfig::Scaling::Linear) {
            f /= rope.factor;
        } else if (rope.scaling == RopeConfig::Scaling::Llama3) {
            const double wavelength = 2.0 * M_PI / f;
            const double lowFreqWavelength = double(rope.originalMaxPositions) / rope.lowFreqFactor;
            const double highFreqWavelength =
                double(rope.originalMaxPositions) / rope.highFreqFactor;
            if (wavelength > lowFreqWavelength) {
                f /= rope.factor;
            } else if (wavelength >= highFreqWavelength) {
                const double smooth =
                    (double(rope.originalMaxPositions) / wavelength - rope.lowFreqFactor)
                    / (rope.highFreqFactor - rope.lowFreqFactor);
                f = (1.0 - smooth) * f / rope.factor + smooth * f;
            }
        }
        frequencies.push_back(f);
    }
    return frequencies;
}

// Rotates each position's vector: pairs (i, i + D/2) turn by position * f_i.
at::Tensor rotate(const at::Tensor &x /* [T, D] */, const std::vector<double> &frequencies)
{
    at::Tensor out = x.clone();
    const std::int64_t half = x.size(1) / 2;
    auto in = x.accessor<double, 2>();
    auto result = out.accessor<double, 2>();
    for (std::int64_t t = 0; t < x.size(0); ++t) {
        for (std::int64_t i = 0; i < half; ++i) {
            const double angle = double(t) * frequencies[std::size_t(i)];
            const double a = in[t][i], b = in[t][i + half];
            result[t][i] = a * std::cos(angle) - b * std::sin(angle);
            result[t][i + half] = b * std::cos(angle) + a * std::sin(angle);
        }
    }
    return out;
}

// How scores are formed: q.k times `scale` (0: 1 / sqrt(headDim)), then bent to
// cap * tanh(s / cap) when `softcap` > 0.
struct Scoring {
    double scale = 0;
    double softcap = 0;
};

// softmax over the visible keys of each query; `slope * j` added to every score of key j.
at::Tensor attendHead(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                      std::int64_t window, double slope, Scoring scoring = {})
{
    const std::int64_t steps = q.size(0);
    at::Tensor scores = at::matmul(q, k.t())
                        * (scoring.scale > 0 ? scoring.scale : 1.0 / std::sqrt(double(q.size(1))));
    if (scoring.softcap > 0)
        scores = at::tanh(scores / scoring.softcap) * scoring.softcap;
    auto s = scores.accessor<double, 2>();
    for (std::int64_t t = 0; t < steps; ++t) {
        for (std::int64_t j = 0; j < steps; ++j) {
            const bool visible = j <= t && (window <= 0 || t - j < window);
            s[t][j] = visible ? s[t][j] + slope * double(j) : -INFINITY;
        }
    }
    const at::Tensor shifted = at::exp(scores - std::get<0>(scores.max(-1, true)));
    return at::matmul(shifted / shifted.sum({-1}, true), v);
}

// The attention half of a Llama-family block, with its residual.
at::Tensor llamaAttention(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                          std::int64_t layer)
{
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const std::int64_t d = c.headDim, group = c.numHeads / c.numKvHeads;
    const auto frequencies = rotaryFrequencies(c.rope, c.headDim);
    const std::int64_t window = c.usesSlidingWindow(layer) ? c.slidingWindow : 0;

    const at::Tensor h = rmsNorm(x, weight(w, p + "input_layernorm.weight"), c.normEps);
    const at::Tensor q =
        project(h, weight(w, p + "self_attn.q_proj.weight"), maybe(w, p + "self_attn.q_proj.bias"));
    const at::Tensor k =
        project(h, weight(w, p + "self_attn.k_proj.weight"), maybe(w, p + "self_attn.k_proj.bias"));
    const at::Tensor v =
        project(h, weight(w, p + "self_attn.v_proj.weight"), maybe(w, p + "self_attn.v_proj.bias"));
    // Qwen3 RMS-normalises each head's query and key (over its d values) before rotary.
    const auto headNorm = [&](const at::Tensor &head, const char *name) {
        return c.qkNorm ? rmsNorm(head, weight(w, p + "self_attn." + name + ".weight"), c.normEps)
                        : head;
    };
    std::vector<at::Tensor> heads;
    for (std::int64_t head = 0; head < c.numHeads; ++head) {
        const std::int64_t kvHead = head / group;
        heads.push_back(
            attendHead(rotate(headNorm(q.narrow(1, head * d, d), "q_norm"), frequencies),
                       rotate(headNorm(k.narrow(1, kvHead * d, d), "k_norm"), frequencies),
                       v.narrow(1, kvHead * d, d), window, 0.0));
    }
    const at::Tensor attended = at::stack(heads, 1).reshape({x.size(0), c.numHeads * d});
    const at::Tensor afterAttention = x
                                      + project(attended, weight(w, p + "self_attn.o_proj.weight"),
                                                maybe(w, p + "self_attn.o_proj.bias"));
    return afterAttention;
}

at::Tensor llamaBlock(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                      std::int64_t layer)
{
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const at::Tensor afterAttention = llamaAttention(c, w, x, layer);
    const at::Tensor h2 =
        rmsNorm(afterAttention, weight(w, p + "post_attention_layernorm.weight"), c.normEps);
    const at::Tensor gate =
        project(h2, weight(w, p + "mlp.gate_proj.weight"), maybe(w, p + "mlp.gate_proj.bias"));
    const at::Tensor up =
        project(h2, weight(w, p + "mlp.up_proj.weight"), maybe(w, p + "mlp.up_proj.bias"));
    const at::Tensor silu = gate / (1.0 + at::exp(-gate));
    return afterAttention
           + project(silu * up, weight(w, p + "mlp.down_proj.weight"),
                     maybe(w, p + "mlp.down_proj.bias"));
}

// Mixtral: Llama's attention, then per token the softmax over all experts' router scores, the
// top k renormalised, and the weighted sum of those experts' SwiGLU outputs.
at::Tensor mixtralBlock(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                        std::int64_t layer)
{
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const at::Tensor afterAttention = llamaAttention(c, w, x, layer);
    const at::Tensor h =
        rmsNorm(afterAttention, weight(w, p + "post_attention_layernorm.weight"), c.normEps);
    const at::Tensor scores = project(h, weight(w, p + "block_sparse_moe.gate.weight"));
    at::Tensor mixed = at::zeros_like(h);
    for (std::int64_t t = 0; t < h.size(0); ++t) {
        std::vector<double> probabilities;
        double total = 0;
        for (std::int64_t e = 0; e < c.numExperts; ++e) {
            probabilities.push_back(std::exp(scores[t][e].item<double>()));
            total += probabilities.back();
        }
        std::vector<std::int64_t> order(std::size_t(c.numExperts));
        for (std::int64_t e = 0; e < c.numExperts; ++e)
            order[std::size_t(e)] = e;
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
            return probabilities[std::size_t(a)] > probabilities[std::size_t(b)];
        });
        double chosenTotal = 0;
        for (std::int64_t j = 0; j < c.expertsPerToken; ++j)
            chosenTotal += probabilities[std::size_t(order[std::size_t(j)])] / total;
        for (std::int64_t j = 0; j < c.expertsPerToken; ++j) {
            const std::int64_t e = order[std::size_t(j)];
            const std::string expert = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
            const at::Tensor row = h[t].unsqueeze(0);
            const at::Tensor gate = project(row, weight(w, expert + "w1.weight"));
            const at::Tensor up = project(row, weight(w, expert + "w3.weight"));
            const at::Tensor silu = gate / (1.0 + at::exp(-gate));
            const double share = probabilities[std::size_t(e)] / total / chosenTotal;
            mixed[t] += share * project(silu * up, weight(w, expert + "w2.weight"))[0];
        }
    }
    return afterAttention + mixed;
}

// Gemma 2 / Gemma 3: every norm scales by 1 + weight; the attention and MLP outputs are
// normalised before the residual; gelu-tanh gates the MLP.
at::Tensor gemmaBlock(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                      std::int64_t layer)
{
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const std::int64_t d = c.headDim, group = c.numHeads / c.numKvHeads;
    const bool local = c.usesSlidingWindow(layer);
    const auto frequencies =
        rotaryFrequencies(local && c.localRope ? *c.localRope : c.rope, c.headDim);
    const auto norm = [&](const at::Tensor &value, const std::string &name) {
        return gemmaNorm(value, weight(w, p + name + ".weight"), c.normEps);
    };

    const at::Tensor h = norm(x, "input_layernorm");
    const at::Tensor q =
        project(h, weight(w, p + "self_attn.q_proj.weight"), maybe(w, p + "self_attn.q_proj.bias"));
    const at::Tensor k =
        project(h, weight(w, p + "self_attn.k_proj.weight"), maybe(w, p + "self_attn.k_proj.bias"));
    const at::Tensor v =
        project(h, weight(w, p + "self_attn.v_proj.weight"), maybe(w, p + "self_attn.v_proj.bias"));
    const auto headNorm = [&](const at::Tensor &head, const char *name) {
        return c.qkNorm ? norm(head, std::string("self_attn.") + name) : head;
    };
    std::vector<at::Tensor> heads;
    for (std::int64_t head = 0; head < c.numHeads; ++head) {
        const std::int64_t kvHead = head / group;
        heads.push_back(
            attendHead(rotate(headNorm(q.narrow(1, head * d, d), "q_norm"), frequencies),
                       rotate(headNorm(k.narrow(1, kvHead * d, d), "k_norm"), frequencies),
                       v.narrow(1, kvHead * d, d), local ? c.slidingWindow : 0, 0.0,
                       {c.attentionScale, c.attentionSoftcap}));
    }
    const at::Tensor attended = at::stack(heads, 1).reshape({x.size(0), c.numHeads * d});
    const at::Tensor afterAttention =
        x
        + norm(project(attended, weight(w, p + "self_attn.o_proj.weight"),
                       maybe(w, p + "self_attn.o_proj.bias")),
               "post_attention_layernorm");

    const at::Tensor h2 = norm(afterAttention, "pre_feedforward_layernorm");
    const at::Tensor gate = project(h2, weight(w, p + "mlp.gate_proj.weight"));
    const at::Tensor up = project(h2, weight(w, p + "mlp.up_proj.weight"));
    const at::Tensor gelu =
        0.5 * gate
        * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (gate + 0.044715 * gate * gate * gate)));
    return afterAttention
           + norm(project(gelu * up, weight(w, p + "mlp.down_proj.weight")),
                  "post_feedforward_layernorm");
}

// Falcon: LayerNorms with biases; the fused QKV's columns by layout; rotary or ALiBi; exact
// GELU; attention and MLP in parallel (one residual) or in sequence.
at::Tensor falconBlock(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                       std::int64_t layer)
{
    const std::string p = "transformer.h." + std::to_string(layer) + ".";
    const FalconLayout &f = c.falcon;
    const std::int64_t d = c.headDim, heads = c.numHeads, group = heads / c.numKvHeads;
    const auto norm = [&](const at::Tensor &value, const std::string &name) {
        return layerNorm(value, weight(w, p + name + ".weight"), weight(w, p + name + ".bias"),
                         c.normEps);
    };
    const bool twoNorms = f.newDecoder && f.twoNorms;
    const at::Tensor h = norm(x, twoNorms ? "ln_attn" : "input_layernorm");
    const at::Tensor qkv = project(h, weight(w, p + "self_attention.query_key_value.weight"),
                                   maybe(w, p + "self_attention.query_key_value.bias"));
    const auto frequencies = rotaryFrequencies(c.rope, d);
    const auto slopes = alibiSlopes(heads);
    std::vector<at::Tensor> outputs;
    for (std::int64_t head = 0; head < heads; ++head) {
        // The column (in units of d) of this head's query, key and value.
        std::int64_t qColumn = 3 * head, kColumn = 3 * head + 1, vColumn = 3 * head + 2;
        if (f.newDecoder) {
            const std::int64_t kv = head / group;
            qColumn = kv * (group + 2) + head % group;
            kColumn = kv * (group + 2) + group;
            vColumn = kColumn + 1;
        } else if (f.multiQuery) {
            qColumn = head;
            kColumn = heads;
            vColumn = heads + 1;
        }
        at::Tensor q = qkv.narrow(1, qColumn * d, d), k = qkv.narrow(1, kColumn * d, d);
        if (!f.alibi) {
            q = rotate(q, frequencies);
            k = rotate(k, frequencies);
        }
        outputs.push_back(attendHead(q, k, qkv.narrow(1, vColumn * d, d), 0,
                                     f.alibi ? slopes[std::size_t(head)] : 0.0));
    }
    const at::Tensor attended = at::stack(outputs, 1).reshape({x.size(0), heads * d});
    const at::Tensor attention = project(attended, weight(w, p + "self_attention.dense.weight"),
                                         maybe(w, p + "self_attention.dense.bias"));
    const bool parallel = f.newDecoder || f.parallel;
    const at::Tensor residual = parallel ? x : x + attention;
    const at::Tensor mlpInput = twoNorms   ? norm(x, "ln_mlp")
                                : parallel ? h
                                           : norm(residual, "post_attention_layernorm");
    const at::Tensor up = project(mlpInput, weight(w, p + "mlp.dense_h_to_4h.weight"),
                                  maybe(w, p + "mlp.dense_h_to_4h.bias"));
    const at::Tensor gelu = 0.5 * up * (1.0 + at::erf(up / std::sqrt(2.0)));
    const at::Tensor mlp = project(gelu, weight(w, p + "mlp.dense_4h_to_h.weight"),
                                   maybe(w, p + "mlp.dense_4h_to_h.bias"));
    return (parallel ? mlp + attention : mlp) + residual;
}

at::Tensor bloomBlock(const ModelConfig &c, const Weights &w, const at::Tensor &x,
                      std::int64_t layer)
{
    const std::string p = "h." + std::to_string(layer) + ".";
    const std::int64_t d = c.headDim;
    const auto slopes = alibiSlopes(c.numHeads);

    const at::Tensor ln1 = layerNorm(x, weight(w, p + "input_layernorm.weight"),
                                     weight(w, p + "input_layernorm.bias"), c.normEps);
    const at::Tensor residual = c.residualFromNormedInput ? ln1 : x;
    // The fused projection's rows are grouped by head, then q/k/v.
    const at::Tensor qkv = project(ln1, weight(w, p + "self_attention.query_key_value.weight"),
                                   weight(w, p + "self_attention.query_key_value.bias"));
    std::vector<at::Tensor> heads;
    for (std::int64_t head = 0; head < c.numHeads; ++head) {
        const std::int64_t base = head * 3 * d;
        heads.push_back(attendHead(qkv.narrow(1, base, d), qkv.narrow(1, base + d, d),
                                   qkv.narrow(1, base + 2 * d, d), 0, slopes[std::size_t(head)]));
    }
    const at::Tensor attended = at::stack(heads, 1).reshape({x.size(0), c.hiddenSize});
    const at::Tensor afterAttention =
        project(attended, weight(w, p + "self_attention.dense.weight"),
                weight(w, p + "self_attention.dense.bias"))
        + residual;
    const at::Tensor ln2 =
        layerNorm(afterAttention, weight(w, p + "post_attention_layernorm.weight"),
                  weight(w, p + "post_attention_layernorm.bias"), c.normEps);
    const at::Tensor residual2 = c.residualFromNormedInput ? ln2 : afterAttention;
    const at::Tensor up = project(ln2, weight(w, p + "mlp.dense_h_to_4h.weight"),
                                  weight(w, p + "mlp.dense_h_to_4h.bias"));
    const at::Tensor gelu =
        0.5 * up * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (up + 0.044715 * up * up * up)));
    return project(gelu, weight(w, p + "mlp.dense_4h_to_h.weight"),
                   weight(w, p + "mlp.dense_4h_to_h.bias"))
           + residual2;
}

} // namespace

namespace {

// The token embeddings as the test checkpoints of the family name them.
std::string embeddingName(const ModelConfig &config)
{
    switch (config.architecture) {
    case Architecture::Bloom: return "word_embeddings.weight";
    case Architecture::Falcon: return "transformer.word_embeddings.weight";
    default: return "model.embed_tokens.weight";
    }
}

} // namespace

std::vector<double> alibiSlopes(std::int64_t heads)
{
    // Press et al.: for n heads (a power of two) the slopes are 2^(-8i/n), i = 1..n. Other
    // counts take the nearest smaller power of two and fill up with the odd-numbered slopes
    // of the next power of two.
    std::int64_t n = 1;
    while (n * 2 <= heads)
        n *= 2;
    std::vector<double> slopes;
    for (std::int64_t i = 1; i <= n; ++i)
        slopes.push_back(std::pow(2.0, -8.0 * double(i) / double(n)));
    for (std::int64_t i = 1; i <= heads - n; ++i)
        slopes.push_back(std::pow(2.0, -8.0 * double(2 * i - 1) / double(2 * n)));
    return slopes;
}

at::Tensor blocks(const ModelConfig &config, const Weights &weights, const at::Tensor &x,
                  std::int64_t begin, std::int64_t end)
{
    at::Tensor h = x.to(at::kDouble);
    for (std::int64_t layer = begin; layer < end; ++layer) {
        switch (config.architecture) {
        case Architecture::Llama: h = llamaBlock(config, weights, h, layer); break;
        case Architecture::Gemma: h = gemmaBlock(config, weights, h, layer); break;
        case Architecture::Mixtral: h = mixtralBlock(config, weights, h, layer); break;
        case Architecture::Falcon: h = falconBlock(config, weights, h, layer); break;
        case Architecture::Bloom: h = bloomBlock(config, weights, h, layer); break;
        }
    }
    return h;
}

at::Tensor blocksWithPrompts(const ModelConfig &config, const Weights &weights, const at::Tensor &x,
                             std::int64_t begin, std::int64_t end, const at::Tensor &prompts)
{
    at::Tensor h = x.to(at::kDouble);
    const std::int64_t prefix = std::min(prompts.size(1), h.size(0));
    for (std::int64_t layer = begin; layer < end; ++layer) {
        const at::Tensor prompt = prompts[layer - begin].slice(0, 0, prefix).to(at::kDouble);
        h = at::cat({h.slice(0, 0, prefix) + prompt, h.slice(0, prefix)});
        h = blocks(config, weights, h, layer, layer + 1);
    }
    return h;
}

at::Tensor embed(const ModelConfig &config, const Weights &weights,
                 const std::vector<std::int64_t> &ids)
{
    const bool bloom = config.architecture == Architecture::Bloom;
    const at::Tensor embeddings = weight(weights, embeddingName(config));
    std::vector<at::Tensor> rows;
    for (std::int64_t id : ids)
        rows.push_back(embeddings[id]);
    at::Tensor h = at::stack(rows);
    if (config.architecture == Architecture::Gemma)
        h = h * std::sqrt(double(config.hiddenSize));
    if (bloom)
        h = layerNorm(h, weight(weights, "word_embeddings_layernorm.weight"),
                      weight(weights, "word_embeddings_layernorm.bias"), config.normEps);
    return h;
}

at::Tensor head(const ModelConfig &config, const Weights &weights, const at::Tensor &h)
{
    at::Tensor normed;
    switch (config.architecture) {
    case Architecture::Llama:
    case Architecture::Mixtral:
        normed = rmsNorm(h, weight(weights, "model.norm.weight"), config.normEps);
        break;
    case Architecture::Gemma:
        normed = gemmaNorm(h, weight(weights, "model.norm.weight"), config.normEps);
        break;
    case Architecture::Bloom:
        normed = layerNorm(h, weight(weights, "ln_f.weight"), weight(weights, "ln_f.bias"),
                           config.normEps);
        break;
    case Architecture::Falcon:
        normed = layerNorm(h, weight(weights, "transformer.ln_f.weight"),
                           weight(weights, "transformer.ln_f.bias"), config.normEps);
        break;
    }
    const at::Tensor lmHead = weights.count("lm_head.weight")
                                  ? weight(weights, "lm_head.weight")
                                  : weight(weights, embeddingName(config));
    const at::Tensor logits = at::matmul(normed, lmHead.t());
    const double cap = config.finalSoftcap;
    return cap > 0 ? at::tanh(logits / cap) * cap : logits;
}

at::Tensor logits(const ModelConfig &config, const Weights &weights,
                  const std::vector<std::int64_t> &ids)
{
    return head(config, weights,
                blocks(config, weights, embed(config, weights, ids), 0, config.numLayers));
}

} // namespace corolla::reference
