#!/usr/bin/env python3
"""Writes a Llama-shaped Hugging Face model directory with random weights, for benchmarking shapes
other than the default model's (e.g. tensor parallelism where the heads split evenly) or a
published model's exact shapes without downloading it. Needs numpy. No tokenizer: `tessera bench
train` trains on random token ids.

  python3 scripts/make_random_model.py OUT [--hidden 768] [--ffn 2048] [--layers 12]
                                           [--heads 12] [--kv-heads 4] [--vocab 32000] [--seed 0]
      one model.safetensors, fp32, tied embeddings.
  python3 scripts/make_random_model.py OUT --preset llama3.1-8b|qwen3-8b|... [--max-shard-gb 5] [--seed 0]
      the preset's config.json (the values of tessera's ModelPreset.swift, i.e. the published
      config) and bf16 safetensors shards with model.safetensors.index.json, as published
      checkpoints are laid out. Written tensor by tensor in chunks of at most 16 M values, so
      memory stays small whatever the model (llama3.1-8b is 16 GB on disk).
  python3 scripts/make_random_model.py OUT ... --model-type mistral --sliding-window 16 \
          --tokenizer DIR --chat-template FILE
      a Mistral config (sliding window), with DIR's tokenizer.json and tokenizer_config.json
      copied beside it and FILE as chat_template.jinja, so that train / eval / generate run on
      it end to end (scripts/test_sentencepiece_model.sh).
  tessera bench train --model OUT ...
"""
import argparse
import json
import os
import shutil

import numpy as np

LLAMA3_SCALING = dict(rope_type="llama3", low_freq_factor=1.0, high_freq_factor=4.0,
                      original_max_position_embeddings=8192)
# Qwen3: q/k norm per head (q_norm, k_norm of head_dim), head_dim 128 whatever hidden / heads.
QWEN3 = dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], head_dim=128, rope_theta=1000000.0,
             rms_norm_eps=1e-6, max_position_embeddings=40960, attention_bias=False, bos_token_id=151643,
             eos_token_id=151645)
# Mirrors Sources/ModelIO/ModelPreset.swift (hidden, FFN, layers, heads, KV heads, vocab, extra keys).
PRESETS = {
    "smollm2-135m": (576, 1536, 30, 9, 3, 49152, dict(rope_theta=100000.0, max_position_embeddings=8192,
                                                       tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)),
    "llama2-7b": (4096, 11008, 32, 32, 32, 32000, dict(max_position_embeddings=4096, bos_token_id=1, eos_token_id=2)),
    "llama2-13b": (5120, 13824, 40, 40, 40, 32000, dict(max_position_embeddings=4096, bos_token_id=1, eos_token_id=2)),
    "llama2-70b": (8192, 28672, 80, 64, 8, 32000, dict(max_position_embeddings=4096, bos_token_id=1, eos_token_id=2)),
    "llama3-8b": (4096, 14336, 32, 32, 8, 128256, dict(rope_theta=500000.0, max_position_embeddings=8192,
                                                        bos_token_id=128000, eos_token_id=128001)),
    "llama3-70b": (8192, 28672, 80, 64, 8, 128256, dict(rope_theta=500000.0, max_position_embeddings=8192,
                                                         bos_token_id=128000, eos_token_id=128001)),
    "llama3.1-8b": (4096, 14336, 32, 32, 8, 128256, dict(
        rope_theta=500000.0, rope_scaling=dict(LLAMA3_SCALING, factor=8.0), max_position_embeddings=131072,
        bos_token_id=128000, eos_token_id=128001)),
    "llama3.1-70b": (8192, 28672, 80, 64, 8, 128256, dict(
        rope_theta=500000.0, rope_scaling=dict(LLAMA3_SCALING, factor=8.0), max_position_embeddings=131072,
        bos_token_id=128000, eos_token_id=128001)),
    "llama3.2-1b": (2048, 8192, 16, 32, 8, 128256, dict(
        head_dim=64, rope_theta=500000.0, rope_scaling=dict(LLAMA3_SCALING, factor=32.0),
        max_position_embeddings=131072, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001)),
    "llama3.2-3b": (3072, 8192, 28, 24, 8, 128256, dict(
        head_dim=128, rope_theta=500000.0, rope_scaling=dict(LLAMA3_SCALING, factor=32.0),
        max_position_embeddings=131072, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001)),
    "qwen3-0.6b": (1024, 3072, 28, 16, 8, 151936, dict(QWEN3, tie_word_embeddings=True)),
    "qwen3-4b": (2560, 9728, 36, 32, 8, 151936, dict(QWEN3, tie_word_embeddings=True)),
    "qwen3-8b": (4096, 12288, 36, 32, 8, 151936, dict(QWEN3, tie_word_embeddings=False)),
}
CHUNK = 1 << 24   # values generated at once (64 MB of fp32)


def tensor_shapes(c, f, layers, h, g, v, d, tied, qk_norm=False):
    """HF tensor names and shapes in checkpoint order (with q_norm/k_norm for qwen3)."""
    shapes = {"model.embed_tokens.weight": (v, c)}
    for layer in range(layers):
        prefix = f"model.layers.{layer}."
        shapes.update({
            prefix + "input_layernorm.weight": (c,), prefix + "post_attention_layernorm.weight": (c,),
            prefix + "self_attn.q_proj.weight": (h * d, c), prefix + "self_attn.k_proj.weight": (g * d, c),
            prefix + "self_attn.v_proj.weight": (g * d, c), prefix + "self_attn.o_proj.weight": (c, h * d),
            prefix + "mlp.gate_proj.weight": (f, c), prefix + "mlp.up_proj.weight": (f, c),
            prefix + "mlp.down_proj.weight": (c, f)})
        if qk_norm:
            shapes.update({prefix + "self_attn.q_norm.weight": (d,), prefix + "self_attn.k_norm.weight": (d,)})
    shapes["model.norm.weight"] = (c,)
    if not tied:
        shapes["lm_head.weight"] = (v, c)
    return shapes


def to_bf16(values):
    """float32 → bf16 bit patterns, round to nearest even (as tessera's BFloat16.fromFloat)."""
    bits = values.view(np.uint32)
    return ((bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16).astype(np.uint16)


def write_shard(path, names, shapes, dtype, rng):
    """One safetensors file: 8-byte header length, JSON header, then each tensor's bytes, written
    in chunks (norm weights 1, matrices N(0, 0.02²) as at initialisation)."""
    width = 2 if dtype == "BF16" else 4
    header, offset = {}, 0
    for name in names:
        size = width * int(np.prod(shapes[name]))
        header[name] = {"dtype": dtype, "shape": list(shapes[name]), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little"))
        fh.write(text)
        for name in names:
            count = int(np.prod(shapes[name]))
            for start in range(0, count, CHUNK):
                n = min(CHUNK, count - start)
                values = (np.ones(n, np.float32) if len(shapes[name]) == 1
                          else rng.standard_normal(n, dtype=np.float32) * np.float32(0.02))
                fh.write((to_bf16(values) if dtype == "BF16" else values).tobytes())
    return offset


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a published shape, written as bf16 shards")
    p.add_argument("--max-shard-gb", type=float, default=5.0, help="largest shard with --preset, GB (10⁹ bytes)")
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--ffn", type=int, default=2048)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-type", choices=["llama", "mistral"], default="llama", help="without --preset")
    p.add_argument("--sliding-window", type=int, help="Mistral's attention window (with --model-type mistral)")
    p.add_argument("--tokenizer", help="a directory whose tokenizer.json and tokenizer_config.json are copied")
    p.add_argument("--chat-template", help="a Jinja file written as chat_template.jinja")
    a = p.parse_args()
    if a.preset:
        c, f, layers, h, g, v, extra = PRESETS[a.preset]
        dtype = "BF16"
    else:
        c, f, layers, h, g, v = a.hidden, a.ffn, a.layers, a.heads, a.kv_heads, a.vocab
        extra = dict(rope_theta=10000.0, max_position_embeddings=4096, tie_word_embeddings=True,
                     bos_token_id=1, eos_token_id=2)
        if a.model_type == "mistral":
            extra.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=a.sliding_window)
        dtype = "F32"
    if c % h or h % g:
        p.error("hidden must be a multiple of heads, and heads a multiple of kv-heads")
    d = extra.get("head_dim", c // h)
    tied = extra.get("tie_word_embeddings", False)
    os.makedirs(a.out, exist_ok=True)
    config = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=c, intermediate_size=f,
                  num_hidden_layers=layers, num_attention_heads=h, num_key_value_heads=g, rms_norm_eps=1e-5,
                  rope_theta=10000.0, vocab_size=v, tie_word_embeddings=tied, hidden_act="silu",
                  torch_dtype="bfloat16" if dtype == "BF16" else "float32")
    config.update(extra)
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1)
    if a.tokenizer:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(a.tokenizer, name), os.path.join(a.out, name))
    if a.chat_template:
        shutil.copyfile(a.chat_template, os.path.join(a.out, "chat_template.jinja"))

    shapes = tensor_shapes(c, f, layers, h, g, v, d, tied, qk_norm=config["model_type"] == "qwen3")
    rng = np.random.default_rng(a.seed)
    if not a.preset:
        write_shard(os.path.join(a.out, "model.safetensors"), list(shapes), shapes, dtype, rng)
    else:
        # Shards in checkpoint order, each at most --max-shard-gb (a larger tensor gets its own).
        limit, shards, size = a.max_shard_gb * 1e9, [[]], 0
        for name, shape in shapes.items():
            nbytes = 2 * int(np.prod(shape))
            if shards[-1] and size + nbytes > limit:
                shards.append([])
                size = 0
            shards[-1].append(name)
            size += nbytes
        files = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        total = sum(write_shard(os.path.join(a.out, file), names, shapes, dtype, rng) for file, names in zip(files, shards))
        index = {"metadata": {"total_size": total},
                 "weight_map": {name: file for file, names in zip(files, shards) for name in names}}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as fh:
            json.dump(index, fh, indent=1)
    params = sum(int(np.prod(s)) for s in shapes.values())
    print(f"{a.out}: {a.preset or 'custom'}, {layers} layers, hidden {c}, FFN {f}, {h} heads / {g} KV, vocab {v}, "
          f"{params:,} parameters ({dtype})")


if __name__ == "__main__":
    main()
