#!/usr/bin/env python3
"""Writes a Llama-shaped Hugging Face model directory (config.json + model.safetensors, fp32)
with random weights, for benchmarking shapes other than the default model's, e.g. tensor
parallelism where the heads split evenly. Needs numpy. No tokenizer: `tessera bench train`
trains on random token ids.

  python3 scripts/make_random_model.py OUT [--hidden 768] [--ffn 2048] [--layers 12]
                                           [--heads 12] [--kv-heads 4] [--vocab 32000] [--seed 0]
  tessera bench train --model OUT ...
"""
import argparse
import json
import os

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--ffn", type=int, default=2048)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.hidden % a.heads or a.heads % a.kv_heads:
        p.error("hidden must be a multiple of heads, and heads a multiple of kv-heads")
    c, f, h, g, v = a.hidden, a.ffn, a.heads, a.kv_heads, a.vocab
    d = c // h
    os.makedirs(a.out, exist_ok=True)
    config = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=c, intermediate_size=f,
                  num_hidden_layers=a.layers, num_attention_heads=h, num_key_value_heads=g, rms_norm_eps=1e-5,
                  rope_theta=10000.0, vocab_size=v, max_position_embeddings=4096, tie_word_embeddings=True,
                  hidden_act="silu", torch_dtype="float32", bos_token_id=1, eos_token_id=2)
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1)

    shapes = {"model.embed_tokens.weight": (v, c), "model.norm.weight": (c,)}
    for layer in range(a.layers):
        prefix = f"model.layers.{layer}."
        shapes.update({
            prefix + "input_layernorm.weight": (c,), prefix + "post_attention_layernorm.weight": (c,),
            prefix + "self_attn.q_proj.weight": (h * d, c), prefix + "self_attn.k_proj.weight": (g * d, c),
            prefix + "self_attn.v_proj.weight": (g * d, c), prefix + "self_attn.o_proj.weight": (c, h * d),
            prefix + "mlp.gate_proj.weight": (f, c), prefix + "mlp.up_proj.weight": (f, c),
            prefix + "mlp.down_proj.weight": (c, f)})
    # safetensors: 8-byte header length, JSON header (offsets into the data), the tensors' bytes.
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as fh:
        fh.write(len(text).to_bytes(8, "little"))
        fh.write(text)
        for name, shape in shapes.items():
            # Norm weights 1, matrices N(0, 0.02²) as at initialisation.
            values = np.ones(shape, np.float32) if len(shape) == 1 else rng.standard_normal(shape, dtype=np.float32) * 0.02
            fh.write(values.tobytes())
    print(f"{a.out}: {a.layers} layers, hidden {c}, FFN {f}, {h} heads / {g} KV, vocab {v}")


if __name__ == "__main__":
    main()
