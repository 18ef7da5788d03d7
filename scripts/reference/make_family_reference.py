#!/usr/bin/env python3
"""Writes a tiny random-weight model of one architecture family, saved by transformers itself,
and its reference numbers from transformers + PEFT: what Tessera's per-family tests hold its
own loader, forward pass and LoRA gradients to (Tests/Fixtures/reference/<family>-tiny).

No download: the model is built in code from the family's transformers config class, its
weights are overwritten from a seeded generator (large enough that hidden states are not tiny,
and every norm weight away from 1 so that the norms really matter), and the input is a seeded
sequence of ids. Everything runs on the CPU in float32 with one torch thread and eager
attention, so a rerun with the same versions gives the same bits.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        /path/to/venv/bin/python scripts/reference/make_family_reference.py \\
        --family qwen3 --out Tests/Fixtures/reference/qwen3-tiny

The virtual environment needs torch, transformers 5.24.0, peft 0.21.2, safetensors and numpy.
Families are entries of FAMILIES: a config builder, the model class, the family's own extra
check (an "effect": a named loss of a modified copy that shows a family trait matters, e.g.
qwen3's qk_norm_effect, mistral's window_effect) and the family-specific README text.
"""
import argparse
import copy
import importlib.metadata
import json
import math
import os
import platform
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

import peft
import safetensors
import safetensors.torch
import transformers
from peft import LoraConfig, get_peft_model

WEIGHT_SEED = 0
IDS_SEED = 42
LORA_SEED = 1234
WEIGHT_STD = 0.05
NORM_STD = 0.2
BIAS_STD = 0.1
LORA_INIT_STD = 0.05
N_IDS = 40
FIRST_ID = 3  # ids 0, 1, 2 are bos, eos, pad
LORA_R = 8
LORA_ALPHA = 16
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---------------------------------------------------------------------------------------------
# Families. Each entry builds a small config with the family's real traits (Qwen3: per-head q/k
# RMSNorm, head_dim independent of hidden_size / heads, GQA, tied embeddings; Mistral: sliding-
# window attention with a window much shorter than the input, GQA, untied lm_head).


def tiny_config(cls, **traits):
    """The shape every two-layer family fixture shares (vocab 128, hidden 64, FFN 256: four column
    blocks of 64, so tp 4 with one head per rank can shard it; 4 heads, 2 KV heads; ids 0, 1, 2 are
    bos, eos, pad) with the family's own traits."""
    shape = dict(vocab_size=128, hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    shape.update(traits)
    return cls(**shape)


def qwen3_config():
    return tiny_config(
        transformers.Qwen3Config,
        head_dim=32,  # q width 4 × 32 = 128 ≠ hidden 64
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=True,
        attention_bias=False,
        use_sliding_window=False,
    )


def qwen2_config():
    return tiny_config(
        transformers.Qwen2Config,
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=True,
        use_sliding_window=False,
    )


LLAMA3_SCALING = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 32}


def llama_config():
    return tiny_config(
        transformers.LlamaConfig,
        head_dim=16,
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        # Llama 3.1's frequency scaling over a 32-token original context, so that it changes the
        # 40-token input's loss.
        rope_parameters=dict(LLAMA3_SCALING),
        tie_word_embeddings=False,
        attention_bias=False,
    )


MISTRAL_WINDOW = 8  # keys per query (itself included); the 40-token input is 5× longer


def mistral_config():
    return tiny_config(
        transformers.MistralConfig,
        head_dim=16,  # = hidden / heads
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
        sliding_window=MISTRAL_WINDOW,
    )


PHI3_ORIGINAL = 32  # LongRoPE's original context: the 40-token input takes the long factors
PHI3_WINDOW = 16
PHI3_SHORT = [1.0, 1.1, 1.3, 1.7, 2.2, 3.0]  # rotary dim 16 x 0.75 = 12: six frequencies
PHI3_LONG = [1.0, 1.5, 2.5, 4.0, 6.0, 9.0]


def phi3_config():
    """Phi-4-mini's traits at the tiny shape: fused qkv_proj / gate_up_proj, LongRoPE over a
    32-token original context (max 128: attention factor sqrt(1 + ln 4 / ln 32)), a partial
    rotary embedding (3/4 of each 16-value head), tied embeddings, and a sliding window."""
    return tiny_config(
        transformers.Phi3Config,
        hidden_act="silu",
        max_position_embeddings=128,
        original_max_position_embeddings=PHI3_ORIGINAL,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                         "short_factor": list(PHI3_SHORT), "long_factor": list(PHI3_LONG)},
        partial_rotary_factor=0.75,
        tie_word_embeddings=True,
        sliding_window=PHI3_WINDOW,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attention_dropout=0.0,
    )


GEMMA3_WINDOW = 8  # keys per query on the sliding layers; the 40-token input is 5x longer
GEMMA3_LAYERS = 6  # llama.cpp's fixed pattern: layers 0-4 sliding, layer 5 global


def gemma3_config():
    return transformers.Gemma3TextConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=256,  # four FFN column blocks of 64: tp 4 (one head per rank) can shard it
        num_hidden_layers=GEMMA3_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=1,  # one KV head, as Gemma 3 270M and 1B
        head_dim=32,  # q width 4 x 32 = 128, not hidden 64
        query_pre_attn_scalar=32,  # = head_dim, as every released size but 27B (GGUF cannot say otherwise)
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        sliding_window=GEMMA3_WINDOW,
        layer_types=["sliding_attention"] * (GEMMA3_LAYERS - 1) + ["full_attention"],
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
        },
        tie_word_embeddings=True,
        attention_bias=False,
        final_logit_softcapping=None,
        attn_logit_softcapping=None,
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )


# Family effects: effect(family, model, ids, base_loss) -> (loss, the reference.json record).
# Each runs on the model as loaded back from disk and changes only a deep copy of it.


def qk_norm_effect(family, model, ids, base_loss):
    """The base loss of a copy whose q_norm/k_norm weights are all ones."""
    twin = copy.deepcopy(model)
    reset = []
    with torch.no_grad():
        for name, p in twin.named_parameters():
            if name.endswith(family["qk_norms"]):
                p.fill_(1.0)
                reset.append(name)
        loss, _ = loss_and_logits(twin, ids)
    loss = float(loss)
    return loss, {
        "loss_with_qk_norm_weights_ones": loss,
        "base_loss": base_loss,
        "difference": loss - base_loss,
        "reset_parameters": reset,
    }


def bias_effect(family, model, ids, base_loss):
    """The base loss of a copy whose q/k/v biases are all zero."""
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            if name.endswith("bias"):
                p.zero_()
        loss, _ = loss_and_logits(twin, ids)
    loss = float(loss)
    return loss, {"loss_with_biases_zero": loss, "base_loss": base_loss, "difference": loss - base_loss}


def rope_scaling_effect(family, model, ids, base_loss):
    """The base loss of a rebuilt copy with the plain rotary embedding (no llama3 scaling)."""
    plain = dict(model.config.rope_parameters)
    plain = {"rope_type": "default", "rope_theta": plain["rope_theta"]}
    loss = variant_loss(family, model, ids, rope_parameters=plain)
    return loss, {"loss_without_rope_scaling": loss, "base_loss": base_loss, "difference": loss - base_loss,
                  "rope_parameters": dict(model.config.rope_parameters)}


def visible_keys(model, ids, layer=0):
    """Per query position, the key positions with nonzero attention probability (any head) in
    `layer`, from the eager attention weights."""
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True)
    probs = out.attentions[layer][0]  # [heads, queries, keys]
    nonzero = (probs != 0).any(dim=0)
    return [[int(j) for j in torch.nonzero(row).reshape(-1)] for row in nonzero]


def window_effect(family, model, ids, base_loss):
    """The base loss of a copy with config.sliding_window = None (full causal attention), and
    the visible keys of the windowed model read off layer 0's attention probabilities."""
    w = model.config.sliding_window
    seen = visible_keys(model, ids)
    for i, keys in enumerate(seen):  # transformers' rule: key j visible to query i iff i - w < j <= i
        assert keys == list(range(max(0, i - w + 1), i + 1)), f"query {i} sees keys {keys}"
    twin = copy.deepcopy(model)
    twin.config.sliding_window = None  # the copy's layers share this config object
    with torch.no_grad():
        loss, _ = loss_and_logits(twin, ids)
    full = visible_keys(twin, ids)
    assert all(keys == list(range(i + 1)) for i, keys in enumerate(full)), "copy is not full causal"
    loss = float(loss)
    q = 20
    return loss, {
        "loss_full_causal": loss,
        "base_loss": base_loss,
        "difference": loss - base_loss,
        "sliding_window": w,
        "rule": "key j is visible to query i iff i - sliding_window < j <= i "
                "(sliding_window keys, the query's own position included)",
        "layer0_visible_keys_query20": [seen[q][0], seen[q][-1]],
        "rule_checked": "every query of layer 0's eager attention probabilities, windowed and full",
    }


def variant_loss(family, model, ids, **changes):
    """The base loss of a model built from a copy of `model`'s config with `changes`, holding
    `model`'s weights (rebuilt, so that per-layer attributes read at construction follow)."""
    config = copy.deepcopy(model.config)
    for key, value in changes.items():
        setattr(config, key, value)
    twin = family["model_class"]()(config).to(torch.float32)
    twin.load_state_dict(model.state_dict())
    twin.eval()
    with torch.no_grad():
        loss, _ = loss_and_logits(twin, ids)
    return float(loss)


def gemma3_effects(family, model, ids, base_loss):
    """What each Gemma 3 trait does to the loss, on rebuilt copies: every layer global (no
    window), the attention scale from query_pre_attn_scalar 24 instead of 32, and the layers'
    visible keys (sliding layers: the last GEMMA3_WINDOW keys; the global layer: all)."""
    n = model.config.num_hidden_layers
    full = variant_loss(family, model, ids, layer_types=["full_attention"] * n)
    scaled = variant_loss(family, model, ids, query_pre_attn_scalar=24)
    w = model.config.sliding_window
    for layer, kind in enumerate(model.config.layer_types):
        seen = visible_keys(model, ids, layer)
        lo = (lambda i: max(0, i - w + 1)) if kind == "sliding_attention" else (lambda i: 0)
        assert all(keys == list(range(lo(i), i + 1)) for i, keys in enumerate(seen)), f"layer {layer} ({kind})"
    return full, {
        "base_loss": base_loss,
        "loss_all_layers_full_attention": full,
        "loss_query_pre_attn_scalar_24": scaled,
        "layer_types": list(model.config.layer_types),
        "sliding_window": w,
        "rule": "on a sliding_attention layer key j is visible to query i iff i - sliding_window < j <= i; "
                "on a full_attention layer iff j <= i (checked on every layer's eager attention probabilities)",
    }


def phi3_effects(family, model, ids, base_loss):
    """LongRoPE's two regimes: the loss of the first 24 ids (every position below the original
    context: short factors), and of all 40 with long_factor replaced by short_factor (a rebuilt
    copy), which shows the long factors are what the 40-token pass uses."""
    n = 24
    with torch.no_grad():
        short, _ = loss_and_logits(model, ids[:, :n])
    rope = copy.deepcopy(model.config.rope_parameters)
    rope["long_factor"] = list(rope["short_factor"])
    swapped = variant_loss(family, model, ids, rope_parameters=rope)
    return float(short), {
        "base_loss": base_loss,
        "prefix_ids": n,
        "loss_first_24_ids": float(short),
        "loss_long_factor_as_short": swapped,
        "rope_parameters": dict(model.config.rope_parameters),
        "rule": "transformers picks long_factor for the whole pass when max(position_ids) + 1 > "
                "original_max_position_embeddings, else short_factor; cos and sin are multiplied by "
                "sqrt(1 + ln(max_position_embeddings / original) / ln(original))",
    }


FAMILIES = {
    "phi3": {
        "config": phi3_config,
        "model_class": lambda: transformers.Phi3ForCausalLM,
        "hub_name": "tessera/phi3-tiny",
        "gguf": {"arch": "phi3", "norm_shift": False},
        "lora_targets": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
        "provenance": "transformers.Phi3Config + Phi3ForCausalLM, built in code",
        "effect": ("phi3_effects", phi3_effects),
        "effect_note": "phi3_effects: the loss of the first 24 ids (short factors) and of all 40 with "
                       "long_factor replaced by short_factor.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 2 layers, 4 attention heads, 2 key/value heads, "
                     "head_dim 16,\n**fused qkv_proj [128, 64] and gate_up_proj [512, 64]**, RMSNorm eps 1e-5, "
                     "LongRoPE (rope_theta 1e4, short and long\nfactors, original context 32, max 128), "
                     "partial_rotary_factor 0.75 (12 of 16 values rotate), tied embeddings,\nsliding_window 16.",
            "norms": "input_layernorm, post_attention_layernorm, model.norm",
            "effect": "on the first 24 ids (short factors)\n{effect:.6f}.",
            "notes": "Phi-3 fuses q, k, v into qkv_proj and gate, up into gate_up_proj (gate first); the\n"
                     "PEFT adapter targets qkv_proj, o_proj, gate_up_proj and down_proj (PEFT's all-linear).",
            "extra": """
**LongRoPE (`reference.json` → `phi3_effects`).** The 40-token input reaches past the 32-token original
context, so transformers uses long_factor for every position of it; the first 24 ids alone use
short_factor: {record[loss_first_24_ids]:.6f}. With long_factor replaced by short_factor the 40-token
loss is {record[loss_long_factor_as_short]:.6f}.
""",
        },
    },
    "gemma3": {
        "config": gemma3_config,
        "model_class": lambda: transformers.Gemma3ForCausalLM,
        "hub_name": "tessera/gemma3-tiny",
        "gguf": {"arch": "gemma3", "norm_shift": True},
        "provenance": "transformers.Gemma3TextConfig + Gemma3ForCausalLM, built in code",
        "effect": ("gemma3_effects", gemma3_effects),
        "effect_note": "gemma3_effects: base losses of rebuilt copies with every layer full_attention and with "
                       "query_pre_attn_scalar 24, and the visibility rule checked on every layer.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 6 layers (layer_types: 5 x sliding_attention, then\n"
                     "full_attention, llama.cpp's fixed pattern), 4 attention heads, **1 key/value head**, head_dim 32 "
                     "(q width 128 ≠ hidden 64),\nquery_pre_attn_scalar 32, RMSNorm eps 1e-6 applied as x̂·(1 + w), "
                     "GeGLU (gelu_pytorch_tanh), embeddings scaled by √64,\nsliding_window 8, RoPE theta 1e4 on "
                     "sliding layers and 1e6 with linear scaling factor 8 on the global layer, tied embeddings.",
            "norms": "input_layernorm, post_attention_layernorm, pre_feedforward_layernorm,\n"
                     "post_feedforward_layernorm, self_attn.q_norm, self_attn.k_norm, model.norm",
            "effect": "with every layer full_attention (a rebuilt copy)\n{effect:.6f}, so the window changes the loss.",
            "notes": "Gemma 3 stores norm weights w and applies (1 + w); the four norms of a layer are\n"
                     "input (before attention), post-attention (on o_proj's output, before the residual add),\n"
                     "pre-feedforward and post-feedforward. q/k norms as Qwen3's, also with (1 + w).",
            "extra": """
**Effects (`reference.json` → `gemma3_effects`).** Every layer global: {record[loss_all_layers_full_attention]:.6f};
query_pre_attn_scalar 24 instead of 32: {record[loss_query_pre_attn_scalar_24]:.6f}. On every layer the keys with
nonzero attention probability were checked: the last {record[sliding_window]} on a sliding layer, all on the global one.
""",
        },
    },
    "qwen2": {
        "config": qwen2_config,
        "model_class": lambda: transformers.Qwen2ForCausalLM,
        "hub_name": "tessera/qwen2-tiny",
        "gguf": {"arch": "qwen2", "norm_shift": False},
        "provenance": "transformers.Qwen2Config + Qwen2ForCausalLM, built in code",
        "effect": ("bias_effect", bias_effect),
        "effect_note": "bias_effect: the base loss of a copy whose q/k/v biases are all zero.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 2 layers, 4 attention heads, 2 key/value heads, "
                     "head_dim 16, q/k/v biases\n(randn x 0.1), RMSNorm eps 1e-6, rope_theta 1e6, tied embeddings, "
                     "no sliding window.",
            "norms": "input_layernorm, post_attention_layernorm, model.norm",
            "effect": "with the q/k/v biases zeroed (on a copy)\n{effect:.6f}, so the biases do change the loss.",
            "notes": "Qwen2 puts biases on q_proj, k_proj and v_proj (never o_proj); llama.cpp stores\n"
                     "them as attn_q.bias, attn_k.bias, attn_v.bias.",
            "extra": "",
        },
    },
    "llama": {
        "config": llama_config,
        "model_class": lambda: transformers.LlamaForCausalLM,
        "hub_name": "tessera/llama-tiny",
        "gguf": {"arch": "llama", "norm_shift": False, "permute_qk": True},
        "provenance": "transformers.LlamaConfig + LlamaForCausalLM, built in code",
        "effect": ("rope_scaling_effect", rope_scaling_effect),
        "effect_note": "rope_scaling_effect: the base loss of a rebuilt copy with the plain rotary embedding.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 2 layers, 4 attention heads, 2 key/value heads, "
                     "head_dim 16, RMSNorm eps 1e-5,\nrope_theta 1e4 with Llama 3.1's llama3 scaling (factor 8, "
                     "low/high frequency factors 1 and 4) over a 32-token original context,\nuntied embeddings.",
            "norms": "input_layernorm, post_attention_layernorm, model.norm",
            "effect": "with the plain rotary embedding (a rebuilt copy)\n{effect:.6f}, so the scaling does change the loss.",
            "notes": "llama.cpp's GGUF permutes q_proj/k_proj rows for its interleaved RoPE and carries\n"
                     "the llama3 scaling as rope_freqs.weight; model.gguf does both, as its converter does.",
            "extra": "",
        },
    },
    "qwen3": {
        "config": qwen3_config,
        "model_class": lambda: transformers.Qwen3ForCausalLM,
        "hub_name": "tessera/qwen3-tiny",
        "gguf": {"arch": "qwen3", "norm_shift": False},
        # Norm weights that qk_norm_effect sets to ones (suffixes of parameter names).
        "qk_norms": ("self_attn.q_norm.weight", "self_attn.k_norm.weight"),
        "provenance": "transformers.Qwen3Config + Qwen3ForCausalLM, built in code",
        "effect": ("qk_norm_effect", qk_norm_effect),
        "effect_note": "qk_norm_effect: the base loss of a copy whose self_attn.q_norm/k_norm weights are all ones.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 2 layers, 4 attention heads, 2 key/value heads, "
                     "head_dim 32 (q width 128 ≠\nhidden 64), RMSNorm eps 1e-6, rope_theta 1e6, tied embeddings, "
                     "no biases, no sliding window.",
            "norms": "input_layernorm, post_attention_layernorm, self_attn.q_norm, self_attn.k_norm,\nmodel.norm",
            "effect": "with q_norm/k_norm weights reset\nto ones (on a copy) {effect:.6f}, so the q/k norm "
                      "weights do change the loss.",
            "notes": "Qwen3 applies q_norm/k_norm per head, over head_dim, after the q/k projection is\n"
                     "reshaped to heads and before RoPE.",
            "extra": "",
        },
    },
    "mistral": {
        "config": mistral_config,
        "model_class": lambda: transformers.MistralForCausalLM,
        "hub_name": "tessera/mistral-tiny",
        "provenance": "transformers.MistralConfig + MistralForCausalLM, built in code",
        "effect": ("window_effect", window_effect),
        "effect_note": "window_effect: the base loss of a copy with config.sliding_window = None (full causal "
                       "attention); layer0_visible_keys_query20: first and last key position with nonzero "
                       "attention probability for query 20 in layer 0 of the windowed model.",
        "readme": {
            "shape": "vocab 128, hidden 64, intermediate 256, 2 layers, 4 attention heads, 2 key/value heads, "
                     "head_dim 16\n(= hidden / heads), RMSNorm eps 1e-5, rope_theta 1e4, untied embeddings (lm_head.weight is "
                     "stored), no biases,\n**sliding_window 8** in every layer (the input is 40 tokens).",
            "norms": "input_layernorm, post_attention_layernorm, model.norm",
            "effect": "with full causal attention\n(a copy with `config.sliding_window = None`) {effect:.6f}, "
                      "so the window does change the loss.",
            "notes": "Mistral has no q/k norms; at this size its only departure from Llama is the\n"
                     "sliding window (and the untied lm_head).",
            "extra": """
**Sliding window (verified for transformers 5.24.0, eager attention).** Query position i sees
key position j iff `i - W < j <= i`: W = {record[sliding_window]} keys, the query's own position included (not W + 1).
`masking_utils.py`: `causal_mask_function` returns `kv_idx <= q_idx`, `sliding_window_overlay`
returns `kv_idx > q_idx - sliding_window`, and `sliding_window_causal_mask_function` is
`and_masks(sliding_window_overlay(sliding_window), causal_mask_function)`. The generator also
reads layer 0's attention probabilities (`output_attentions=True`) and asserts this rule for
every query: query 20 has nonzero probability on keys {record[layer0_visible_keys_query20][0]}…{record[layer0_visible_keys_query20][1]} only (recorded in
`reference.json` → `window_effect.layer0_visible_keys_query20`); with the window removed every
query sees keys 0…i. Positions are 0-based; with no cache, key position = query position index.
""",
        },
    },
}


# ---------------------------------------------------------------------------------------------
# Helpers.


def versions():
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "gguf": importlib.metadata.version("gguf"),
    }


def write_json(path, value, **kw):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=kw.get("indent", 1), ensure_ascii=False, sort_keys=kw.get("sort_keys", False))
        f.write("\n")


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def last3(logits):
    n = logits.shape[1]
    return {str(p): floats(logits[0, p, :20]) for p in range(n - 3, n)}


def loss_and_logits(model, ids):
    """Mean next-token cross-entropy (transformers shifts the labels: N-1 predictions)."""
    out = model(input_ids=ids, labels=ids)
    return out.loss, out.logits


def is_norm(name):
    return name.endswith("norm.weight")


def randomize_weights(model):
    """Linear and embedding weights randn × WEIGHT_STD, norm weights 1 + NORM_STD × randn, in
    named_parameters() order from one generator (a tied lm_head is the embedding: visited once)."""
    g = torch.Generator().manual_seed(WEIGHT_SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if is_norm(name):
                assert p.dim() == 1, name
                p.copy_(1.0 + NORM_STD * noise)
            elif name.endswith("bias"):
                assert p.dim() == 1, name
                p.copy_(BIAS_STD * noise)
            else:
                assert p.dim() == 2 and name.endswith("weight"), f"unexpected parameter {name} {tuple(p.shape)}"
                p.copy_(WEIGHT_STD * noise)


def load_model(family, model_dir):
    cls = family["model_class"]()
    model = cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def adapter_key(name):
    return name.replace(".default", "")  # PEFT saves parameters without the adapter name


def lora_parameters(model):
    return [(adapter_key(n), p) for n, p in model.named_parameters() if "lora_" in n]


def safetensors_shapes(path):
    with safetensors.safe_open(path, framework="pt") as f:
        return {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}


# ---------------------------------------------------------------------------------------------
# GGUF, as llama.cpp's convert_hf_to_gguf.py writes the family (F32, no quantization): the keys it
# sets, its tensor names, no q/k row permutation (qwen3, gemma3: NEOX RoPE), Gemma's norm weights
# stored as 1 + w, a tied head as no output.weight. The tokenizer is a stand-in (the fixtures
# feed ids): gpt2-style, tokens t0..t127, one merge.

GGUF_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "self_attn.qkv_proj.weight": "attn_qkv.weight",  # phi3: fused, as stored
    "mlp.gate_up_proj.weight": "ffn_up.weight",  # phi3: gate and up stacked, llama.cpp's ffn_up
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
}
GGUF_LAYER_NAMES_LLAMA_NORMS = {"post_attention_layernorm.weight": "ffn_norm.weight"}
GGUF_LAYER_NAMES_GEMMA_NORMS = {
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
}


def gguf_tensor_name(family, name):
    if name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if name == "model.norm.weight":
        return "output_norm.weight"
    if name == "lm_head.weight":
        return "output.weight"
    prefix, rest = name.split(".", 3)[:3], name.split(".", 3)[3]
    assert prefix[:2] == ["model", "layers"], name
    table = dict(GGUF_LAYER_NAMES)
    table.update(GGUF_LAYER_NAMES_GEMMA_NORMS if family["gguf"]["norm_shift"] else GGUF_LAYER_NAMES_LLAMA_NORMS)
    return f"blk.{prefix[2]}.{table[rest]}"


def permute_for_gguf(weights, heads):
    """convert_hf_to_gguf.py's LlamaModel.permute: each head's rows from rotate-half to
    interleaved pairs."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def llama3_rope_factors(config, rope):
    """rope_freqs.weight as convert_hf_to_gguf.py derives it from llama3 rope scaling."""
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    freqs = 1.0 / (rope["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old = rope["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for freq in freqs.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32)


def write_gguf(family, model, path):
    import gguf

    spec = family["gguf"]
    c = model.config
    writer = gguf.GGUFWriter(path, spec["arch"])
    writer.add_name(family["hub_name"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(c.max_position_embeddings)
    writer.add_embedding_length(c.hidden_size)
    writer.add_block_count(c.num_hidden_layers)
    writer.add_feed_forward_length(c.intermediate_size)
    writer.add_head_count(c.num_attention_heads)
    writer.add_head_count_kv(c.num_key_value_heads)
    writer.add_layer_norm_rms_eps(c.rms_norm_eps)
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    rope = c.rope_parameters.get("full_attention", c.rope_parameters)
    writer.add_rope_freq_base(rope["rope_theta"])
    if rope.get("rope_type", "default") == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(rope["factor"])
    if spec["norm_shift"]:
        writer.add_sliding_window(c.sliding_window)
    if spec["arch"] == "phi3":
        # convert_hf_to_gguf.py's Phi3MiniModel: n_rot, the window (0: none), LongRoPE's original
        # context, its attention factor and the two factor tensors.
        writer.add_rope_dimension_count(int(head_dim * rope.get("partial_rotary_factor", 1.0)))
        writer.add_sliding_window(c.sliding_window or 0)
        original = c.original_max_position_embeddings
        scale = c.max_position_embeddings / original
        writer.add_rope_scaling_orig_ctx_len(original)
        writer.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(original)) if scale > 1.0 else 1.0)
        writer.add_tensor("rope_factors_long.weight", np.array(rope["long_factor"], dtype=np.float32))
        writer.add_tensor("rope_factors_short.weight", np.array(rope["short_factor"], dtype=np.float32))
    tokens = [f"t{i}" for i in range(c.vocab_size - 1)] + ["t3t4"]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL] * 3 + [gguf.TokenType.NORMAL] * (c.vocab_size - 3))
    writer.add_token_merges(["t3 t4"])
    writer.add_bos_token_id(c.bos_token_id)
    writer.add_eos_token_id(c.eos_token_id)
    if spec.get("permute_qk") and rope.get("rope_type") == "llama3":
        writer.add_tensor("rope_freqs.weight", llama3_rope_factors(c, rope).numpy())
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and c.tie_word_embeddings:
            continue  # tied: llama.cpp reuses token_embd
        data = tensor.detach().to(torch.float32)
        if spec.get("permute_qk") and name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = c.num_attention_heads if name.endswith("q_proj.weight") else c.num_key_value_heads
            data = permute_for_gguf(data, heads)
        if spec["norm_shift"] and name.endswith("norm.weight"):
            data = data + 1.0  # convert_hf_to_gguf.py: Gemma's (1 + w) stored
        writer.add_tensor(gguf_tensor_name(family, name), data.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"file": os.path.basename(path), "architecture": spec["arch"], "type": "F32",
            "gguf_package": importlib.metadata.version("gguf"),
            "norms_stored_as_one_plus_w": spec["norm_shift"],
            "note": "written with the gguf package as llama.cpp's convert_hf_to_gguf.py lays the family out; "
                    "the same weights as model/model.safetensors, so its loss is base_loss"}


# ---------------------------------------------------------------------------------------------
# The parts of the fixture.


def make_model(family, out):
    torch.manual_seed(WEIGHT_SEED)  # construction's own init; every parameter is overwritten below
    config = family["config"]()
    config._attn_implementation = "eager"
    model = family["model_class"]()(config).to(torch.float32)
    randomize_weights(model)
    model.eval()
    model_dir = f"{out}/model"
    model.save_pretrained(model_dir, safe_serialization=True)
    gen = f"{model_dir}/generation_config.json"
    if os.path.exists(gen):
        os.remove(gen)  # not part of the fixture: config.json + model.safetensors only
    return model, model_dir


def make_ids(vocab_size):
    g = torch.Generator().manual_seed(IDS_SEED)
    return torch.randint(FIRST_ID, vocab_size, (1, N_IDS), generator=g, dtype=torch.long)


def make_adapter(family, model_dir, ids, out):
    model = load_model(family, model_dir)
    targets = family.get("lora_targets", LORA_TARGETS)
    config = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=targets, lora_dropout=0.0,
                        bias="none", task_type="CAUSAL_LM")
    wrapped = get_peft_model(model, config)
    g = torch.Generator().manual_seed(LORA_SEED)
    with torch.no_grad():
        for _, p in lora_parameters(wrapped):  # named_parameters order: layer 0 q A, q B, k A, ...
            p.copy_(torch.randn(p.shape, generator=g) * LORA_INIT_STD)
    wrapped.peft_config["default"].base_model_name_or_path = family["hub_name"]
    adapter_dir = f"{out}/adapter"
    wrapped.save_pretrained(adapter_dir)
    readme = f"{adapter_dir}/README.md"
    if os.path.exists(readme):
        os.remove(readme)  # PEFT's model-card template: no data
    # PEFT writes target_modules from a set, in hash order; sort it so that reruns are identical.
    config_path = f"{adapter_dir}/adapter_config.json"
    saved = json.load(open(config_path, encoding="utf-8"))
    saved["target_modules"] = sorted(saved["target_modules"])
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(saved, f, indent=2, sort_keys=True)  # as PEFT writes it

    wrapped.train()  # dropout is 0: train mode only matters for autograd bookkeeping
    loss, logits = loss_and_logits(wrapped, ids)
    loss.backward()
    params = lora_parameters(wrapped)
    grads = {k: p.grad.detach().clone().contiguous() for k, p in params}
    safetensors.torch.save_file(grads, f"{out}/lora_grads.safetensors", metadata={"format": "pt"})
    norms = {k: float(p.grad.norm().item()) for k, p in params}
    total = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for _, p in params))

    # The saved adapter holds exactly the tensors the gradients are keyed by, with the same shapes.
    saved_shapes = safetensors_shapes(f"{adapter_dir}/adapter_model.safetensors")
    grad_shapes = {k: list(v.shape) for k, v in sorted(grads.items())}
    assert saved_shapes == grad_shapes, "adapter_model.safetensors and lora_grads keys/shapes differ"
    scaling = wrapped.base_model.model.model.layers[0].self_attn.o_proj.scaling["default"]
    lora_cfg = {"r": LORA_R, "lora_alpha": LORA_ALPHA, "scaling": float(scaling),
                "target_modules": sorted(targets), "dropout": 0.0, "bias": "none",
                "init": f"every A and B = randn(shape, one generator seeded {LORA_SEED}) × {LORA_INIT_STD}, "
                        "in named_parameters() order"}
    return float(loss.detach()), logits.detach(), norms, total, lora_cfg, grad_shapes


README = """\
# Golden reference: a tiny random-weight {family} model in transformers + PEFT

What Tessera's {family} tests hold its loader, forward pass and LoRA gradients to. Every file
here is written by `scripts/reference/make_family_reference.py`:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        /path/to/venv/bin/python scripts/reference/make_family_reference.py \\
        --family {family} --out Tests/Fixtures/reference/{family}-tiny

The virtual environment needs torch, transformers 5.24.0, peft 0.21.2, safetensors, numpy and
gguf (versions used: `versions.json`). No network is used.

**Provenance.** {provenance}, no download (see `{config_fn}()` in the
generator): {shape}
After construction every linear and embedding weight is set to randn × {wstd} and every norm
weight ({norms}) to 1 + {nstd} × randn, from one generator seeded {wseed} in named_parameters()
order; the model is saved by `save_pretrained` in float32. The {n} input ids are drawn from a
generator seeded {iseed} in [{first}, 128). Everything runs on the CPU in float32, one torch
thread, eager attention; a rerun with the same versions on the same kind of CPU reproduces every
file bit for bit (on another, torch's kernels move the gradients' last bits: about 2e-8 relative).

| file | what |
|---|---|
| `model/config.json`, `model/model.safetensors` | the model as transformers saves it ({n_tensors} tensors; {lm_head}) |
| `reference.json` | ids; base loss and first 20 logits at the last 3 positions; the same with the adapter; per-tensor and total gradient L2 norms; the LoRA config; `{effect_name}`; the safetensors names and shapes |
| `adapter/` | a PEFT adapter saved by PEFT (adapter_config.json, adapter_model.safetensors): r {r}, alpha {alpha}, {linears}, A and B seeded randn × {lstd} (seed {lseed}) so that B ≠ 0 |
| `lora_grads.safetensors` | d(mean loss)/d(every LoRA tensor), float32, keyed as in `adapter/adapter_model.safetensors` |
{gguf_row}| `versions.json` | Python and package versions |

**Numbers.** base loss {base:.6f}; with the adapter {lora:.6f}; {effect_text}

**Tolerances tests should use.** Losses 2e-4 absolute, logits 1e-3 absolute, gradients 1e-3
relative per tensor (‖g − g_ref‖ / ‖g_ref‖) and on the total gradient norm.

**Notes.** {notes} No file here names a local path; the adapter's
`base_model_name_or_path` is `{hub}`.
{extra}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    family = FAMILIES[args.family]
    out = args.out

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for sub in ("model", "adapter"):
        shutil.rmtree(f"{out}/{sub}", ignore_errors=True)
    os.makedirs(out, exist_ok=True)

    model, model_dir = make_model(family, out)
    ids = make_ids(model.config.vocab_size)

    # The reference numbers come from the model as loaded back from disk; it must agree exactly
    # with the one in memory.
    loaded = load_model(family, model_dir)
    with torch.no_grad():
        base_loss, base_logits = loss_and_logits(loaded, ids)
        mem_loss, mem_logits = loss_and_logits(model, ids)
    assert torch.equal(base_logits, mem_logits) and float(base_loss) == float(mem_loss), "reload changed the model"
    n_pred = ids.shape[1] - 1
    check = torch.nn.functional.cross_entropy(base_logits[0, :-1], ids[0, 1:])
    assert abs(float(check) - float(base_loss)) < 1e-6, "loss is not the mean over N-1 predictions"

    effect_name, effect = family["effect"]
    effect_loss, effect_record = effect(family, loaded, ids, float(base_loss))

    tensors = safetensors_shapes(f"{model_dir}/model.safetensors")
    lm_head_stored = "lm_head.weight" in tensors
    if model.config.tie_word_embeddings:
        assert not lm_head_stored, "tied lm_head.weight was written to model.safetensors"

    lora_loss, lora_logits, norms, total, lora_cfg, grad_shapes = make_adapter(family, model_dir, ids, out)
    gguf_record = write_gguf(family, loaded, f"{out}/model.gguf") if "gguf" in family else None

    vers = versions()
    write_json(f"{out}/versions.json", {"generator": "scripts/reference/make_family_reference.py", "versions": vers})
    write_json(f"{out}/reference.json", {
        "family": args.family,
        "ids": [int(x) for x in ids[0]],
        "n_predictions": n_pred,
        "base_loss": float(base_loss),
        "base_logits_last3_first20": last3(base_logits),
        effect_name: effect_record,
        "lora_loss": lora_loss,
        "lora_logits_last3_first20": last3(lora_logits),
        "grad_l2_norm": norms,
        "grad_total_l2_norm": total,
        "config": lora_cfg,
        "model_tensors": tensors,
        "lm_head_weight_stored": lm_head_stored,
        **({"gguf": gguf_record} if gguf_record else {}),
        "adapter_tensors": grad_shapes,
        "attn_implementation": "eager",
        "torch_threads": torch.get_num_threads(),
        "versions": vers,
        "note": "loss = mean over t = 0..N-2 of cross_entropy(logits[t], ids[t+1]) in float32 "
                "(labels = ids; transformers shifts them). Logit keys are 0-based positions in ids. "
                "With the adapter each targeted linear computes W x + scaling * B (A x), "
                "scaling = lora_alpha / r. grad_l2_norm: per PEFT tensor name (as in "
                "adapter_model.safetensors), float32 norm of d(loss)/d(tensor); grad_total_l2_norm: "
                "sqrt of the float64 sum of every squared gradient element. " + family["effect_note"],
    })
    text = family["readme"]
    extra = text["extra"].format(record=effect_record)
    with open(f"{out}/README.md", "w", encoding="utf-8") as f:
        f.write(README.format(
            family=args.family, provenance=family["provenance"], config_fn=family["config"].__name__,
            shape=text["shape"], norms=text["norms"], effect_name=effect_name,
            effect_text=text["effect"].format(effect=effect_loss), notes=text["notes"], extra=extra,
            wstd=WEIGHT_STD, nstd=NORM_STD,
            wseed=WEIGHT_SEED, n=N_IDS, iseed=IDS_SEED, first=FIRST_ID, n_tensors=len(tensors),
            lm_head="lm_head.weight is stored" if lm_head_stored else "the tied lm_head.weight is not stored",
            r=LORA_R, alpha=LORA_ALPHA, lstd=LORA_INIT_STD,
            linears=("all seven linears" if "lora_targets" not in family
                     else "every linear (" + ", ".join(family["lora_targets"]) + ")"), lseed=LORA_SEED, base=float(base_loss),
            lora=lora_loss, hub=family["hub_name"],
            gguf_row=(f"| `model.gguf` | the same weights as llama.cpp's converter lays out `{family['gguf']['arch']}` "
                      "(F32, written with the gguf package; a stand-in tokenizer): its loss is the base loss |\n"
                      if gguf_record else "")))

    print(f"model.safetensors ({len(tensors)} tensors, lm_head.weight stored: {lm_head_stored}):")
    for k, shape in tensors.items():
        print(f"  {k:50s} {shape}")
    print(f"base loss {float(base_loss):.8f}  lora loss {lora_loss:.8f}  "
          f"{effect_name} {effect_loss:.8f}  grad total {total:.8f}")


if __name__ == "__main__":
    main()
