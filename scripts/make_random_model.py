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
  python3 scripts/make_random_model.py OUT --preset NAME --gguf [--gguf-tokenizer FILE.gguf]
      also OUT/model-q8_0.gguf: the same weights as llama.cpp's converter + `llama-quantize q8_0`
      would write them (GGUF v3, architecture llama or qwen3, q/k rows permuted for llama.cpp's
      RoPE, rope_freqs for llama3 scaling, Q8_0 matrices, F32 norms), read back from the shards
      row block by row block, so memory stays small here too. The tokenizer.* keys are copied
      from FILE.gguf when given (a tokenizer of the same vocabulary), else the file has none
      (enough for `tessera bench`; llama.cpp needs a tokenizer).
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


# --- GGUF (Q8_0) written from the shards -------------------------------------------------------
GGUF_STRING, GGUF_ARRAY, GGUF_UINT32, GGUF_FLOAT32 = 8, 9, 4, 6
GGML_F32, GGML_Q8_0 = 0, 8
GGUF_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_string(text):
    data = text.encode()
    return len(data).to_bytes(8, "little") + data


def gguf_value_size(buf, pos, kind):
    """Bytes of one GGUF metadata value of type `kind` at `pos`."""
    if kind == GGUF_STRING:
        return 8 + int.from_bytes(buf[pos:pos + 8], "little")
    if kind == GGUF_ARRAY:
        inner, count = int.from_bytes(buf[pos:pos + 4], "little"), int.from_bytes(buf[pos + 4:pos + 12], "little")
        if inner in GGUF_SCALAR_SIZES:
            return 12 + count * GGUF_SCALAR_SIZES[inner]
        size = 12
        for _ in range(count):
            size += gguf_value_size(buf, pos + size, inner)
        return size
    return GGUF_SCALAR_SIZES[kind]


def gguf_tokenizer_entries(path):
    """The raw (key, type + value bytes) of every tokenizer.* entry of a GGUF file, in file order."""
    with open(path, "rb") as fh:
        buf = fh.read()
    assert buf[:4] == b"GGUF", f"{path} is not a GGUF file"
    n_kv, pos, out = int.from_bytes(buf[16:24], "little"), 24, []
    for _ in range(n_kv):
        n = int.from_bytes(buf[pos:pos + 8], "little")
        key = buf[pos + 8:pos + 8 + n].decode()
        start = pos + 8 + n
        kind = int.from_bytes(buf[start:start + 4], "little")
        end = start + 4 + gguf_value_size(buf, start + 4, kind)
        if key.startswith("tokenizer."):
            out.append((key, buf[start:end]))
        pos = end
    return out


def q8_0(rows):
    """llama.cpp's / gguf-py's Q8_0 of fp32 rows (length a multiple of 32): per block of 32 an f16
    scale amax / 127 and 32 int8 round-half-away-from-zero(x / scale)."""
    blocks = rows.reshape(-1, 32).astype(np.float32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        inverse = np.where(d == 0, np.float32(0), np.float32(1) / d)
    scaled = blocks * inverse
    q = np.trunc(scaled + np.copysign(np.float32(0.5), scaled)).astype(np.int8)
    out = np.empty((blocks.shape[0], 34), np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def llama3_rope_factors(config):
    """rope_freqs.weight for llama3 rope_scaling, as llama.cpp's converter computes it."""
    s, d = config["rope_scaling"], config.get("head_dim", config["hidden_size"] // config["num_attention_heads"])
    freqs = 1.0 / (config["rope_theta"] ** (np.arange(0, d, 2, dtype=np.float64) / d))
    old, low, high, factor = s["original_max_position_embeddings"], s["low_freq_factor"], s["high_freq_factor"], s["factor"]
    out = []
    for freq in freqs:
        wavelen = 2 * np.pi / freq
        if wavelen < old / high:
            out.append(1.0)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, np.float32)


def gguf_name(hf):
    """llama.cpp's tensor name of an HF tensor name."""
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    layer, rest = hf.split(".")[2], ".".join(hf.split(".")[3:])
    part = {"input_layernorm.weight": "attn_norm", "post_attention_layernorm.weight": "ffn_norm",
            "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k", "self_attn.v_proj.weight": "attn_v",
            "self_attn.o_proj.weight": "attn_output", "self_attn.q_norm.weight": "attn_q_norm",
            "self_attn.k_norm.weight": "attn_k_norm", "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up",
            "mlp.down_proj.weight": "ffn_down"}[rest]
    return f"blk.{layer}.{part}.weight"


def write_gguf(out_dir, config, tokenizer_gguf=None):
    """OUT/model-q8_0.gguf from OUT's safetensors shards (see the module doc)."""
    index_path = os.path.join(out_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index_path))["weight_map"].values())) if os.path.exists(index_path) \
        else ["model.safetensors"]
    tensors = {}   # HF name -> (file, dtype, shape, byte offset of the data)
    for file in files:
        with open(os.path.join(out_dir, file), "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        for name, info in header.items():
            if name != "__metadata__":
                tensors[name] = (file, info["dtype"], info["shape"], 8 + n + info["data_offsets"][0])
    arch = "qwen3" if config["model_type"] == "qwen3" else "llama"
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    d = config.get("head_dim", config["hidden_size"] // heads)
    permute = {"self_attn.q_proj.weight": heads, "self_attn.k_proj.weight": kv_heads} if arch == "llama" else {}
    meta = [("general.architecture", GGUF_STRING, gguf_string(arch)),
            ("general.name", GGUF_STRING, gguf_string(os.path.basename(os.path.normpath(out_dir)))),
            ("general.file_type", GGUF_UINT32, (7).to_bytes(4, "little")),          # MOSTLY_Q8_0
            ("general.quantization_version", GGUF_UINT32, (2).to_bytes(4, "little"))]
    u32 = lambda key, value: (f"{arch}.{key}", GGUF_UINT32, int(value).to_bytes(4, "little"))
    f32 = lambda key, value: (f"{arch}.{key}", GGUF_FLOAT32, np.float32(value).tobytes())
    meta += [u32("context_length", config["max_position_embeddings"]), u32("embedding_length", config["hidden_size"]),
             u32("block_count", config["num_hidden_layers"]), u32("feed_forward_length", config["intermediate_size"]),
             u32("rope.dimension_count", d), u32("attention.head_count", heads), u32("attention.head_count_kv", kv_heads),
             f32("attention.layer_norm_rms_epsilon", config["rms_norm_eps"]), f32("rope.freq_base", config["rope_theta"]),
             u32("vocab_size", config["vocab_size"])]
    if d * heads != config["hidden_size"]:
        meta += [u32("attention.key_length", d), u32("attention.value_length", d)]
    entries = [(k, t.to_bytes(4, "little") + v) for k, t, v in meta]
    if tokenizer_gguf:
        entries += gguf_tokenizer_entries(tokenizer_gguf)
    # Tensor table: (gguf name, HF name or None, ne, type, bytes).
    table = []
    for name, (_, _, shape, _) in tensors.items():
        matrix = len(shape) == 2
        size = shape[0] * shape[1] // 32 * 34 if matrix else 4 * shape[0]
        table.append((gguf_name(name), name, list(reversed(shape)), GGML_Q8_0 if matrix else GGML_F32, size))
    if config.get("rope_scaling", {}).get("rope_type") == "llama3":
        factors = llama3_rope_factors(config)
        table.append(("rope_freqs.weight", None, [len(factors)], GGML_F32, 4 * len(factors)))
    align = lambda n: (n + 31) // 32 * 32
    path = os.path.join(out_dir, "model-q8_0.gguf")
    with open(path, "wb") as fh:
        fh.write(b"GGUF" + (3).to_bytes(4, "little") + len(table).to_bytes(8, "little") + len(entries).to_bytes(8, "little"))
        for key, value in entries:
            fh.write(gguf_string(key) + value)
        offset = 0
        for name, _, ne, kind, size in table:
            fh.write(gguf_string(name) + len(ne).to_bytes(4, "little") + b"".join(int(x).to_bytes(8, "little") for x in ne)
                     + kind.to_bytes(4, "little") + offset.to_bytes(8, "little"))
            offset = align(offset + size)
        fh.write(b"\0" * (align(fh.tell()) - fh.tell()))
        for name, hf, ne, kind, size in table:
            start = fh.tell()
            if hf is None:
                fh.write(factors.tobytes())
            else:
                file, dtype, shape, data = tensors[hf]
                values = np.memmap(os.path.join(out_dir, file), dtype=np.uint16 if dtype == "BF16" else np.float32,
                                   mode="r", offset=data, shape=tuple(shape))
                as_f32 = (lambda x: (x.astype(np.uint32) << 16).view(np.float32)) if dtype == "BF16" else (lambda x: np.asarray(x, np.float32))
                if len(shape) == 1:
                    fh.write(as_f32(values).tobytes())
                else:
                    rows_per = max(d, (CHUNK // shape[1]) // d * d)   # whole heads per block
                    group = permute.get(".".join(hf.split(".")[3:]))
                    for r in range(0, shape[0], rows_per):
                        block = as_f32(values[r:r + rows_per])
                        if group:   # llama.cpp's interleaved RoPE row order, head by head
                            block = block.reshape(-1, 2, d // 2, shape[1]).swapaxes(1, 2).reshape(block.shape)
                        fh.write(q8_0(block))
                del values
            fh.write(b"\0" * (align(fh.tell()) - fh.tell()))
            assert fh.tell() - start == align(size), name
    return path


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
    p.add_argument("--gguf", action="store_true", help="also write OUT/model-q8_0.gguf (Q8_0) from the shards")
    p.add_argument("--gguf-tokenizer", help="a GGUF whose tokenizer.* keys the --gguf file copies (same vocabulary)")
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
    if a.gguf:
        print(f"wrote {write_gguf(a.out, config, a.gguf_tokenizer)}")
    print(f"{a.out}: {a.preset or 'custom'}, {layers} layers, hidden {c}, FFN {f}, {h} heads / {g} KV, vocab {v}, "
          f"{params:,} parameters ({dtype})")


if __name__ == "__main__":
    main()
