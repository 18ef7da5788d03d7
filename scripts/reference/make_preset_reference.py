#!/usr/bin/env python3
"""Writes Tests/Fixtures/reference/presets.json: for every `tessera` model preset, the parameter
count transformers gives the published config (the model built with `from_config` on the meta
device: no weights, no download) and PEFT's print_trainable_parameters line for two adapters
(r 16 on q_proj, v_proj; r 8 on all seven linears; a Phi entry names its own two, on its fused
modules). ModelPresetTests holds Tessera's presets to it.

    HF_HUB_OFFLINE=1 /path/to/venv/bin/python scripts/reference/make_preset_reference.py \\
        --out Tests/Fixtures/reference/presets.json

The configs below are the values of each checkpoint's published config.json (the Gemma 3 4B
entry is its text model, Gemma3ForCausalLM; the checkpoint also holds a vision tower). The
virtual environment needs torch, transformers 5.24.0 and peft 0.21.2.
"""
import argparse
import contextlib
import io
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model


def llama(hidden, ffn, layers, heads, kv, vocab, tied=False, theta=10000.0, scaling=None, head_dim=None,
          positions=4096):
    rope = {"rope_type": "default", "rope_theta": theta}
    if scaling:
        rope = {"rope_type": "llama3", "rope_theta": theta, "factor": scaling, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    return transformers.LlamaConfig(
        hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv, vocab_size=vocab, tie_word_embeddings=tied, rope_parameters=rope,
        head_dim=head_dim or hidden // heads, max_position_embeddings=positions)


def qwen3(hidden, ffn, layers, heads, tied):
    return transformers.Qwen3Config(
        hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=tied,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, max_position_embeddings=40960)


def gemma3(hidden, ffn, layers, heads, kv, vocab, window, linear=None):
    full = {"rope_type": "default", "rope_theta": 1000000.0}
    if linear:
        full = {"rope_type": "linear", "rope_theta": 1000000.0, "factor": linear}
    return transformers.Gemma3TextConfig(
        hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv, head_dim=256, query_pre_attn_scalar=256, vocab_size=vocab, sliding_window=window,
        rope_parameters={"full_attention": full, "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
        tie_word_embeddings=True)


def phi3(heads, kv, vocab, tied, window, partial=1.0, positions=4096):
    """A Phi-3 / Phi-4-mini shape (hidden 3072, FFN 8192, 32 layers) without LongRoPE (its factors
    are the checkpoint's; the parameter count does not depend on them)."""
    return transformers.Phi3Config(
        hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=heads,
        num_key_value_heads=kv, vocab_size=vocab, tie_word_embeddings=tied, sliding_window=window,
        max_position_embeddings=positions, partial_rotary_factor=partial,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": partial})


PRESETS = {
    "smollm2-135m": lambda: llama(576, 1536, 30, 9, 3, 49152, tied=True, theta=100000.0, positions=8192),
    "llama2-7b": lambda: llama(4096, 11008, 32, 32, 32, 32000),
    "llama2-13b": lambda: llama(5120, 13824, 40, 40, 40, 32000),
    "llama2-70b": lambda: llama(8192, 28672, 80, 64, 8, 32000),
    "llama3-8b": lambda: llama(4096, 14336, 32, 32, 8, 128256, theta=500000.0, positions=8192),
    "llama3-70b": lambda: llama(8192, 28672, 80, 64, 8, 128256, theta=500000.0, positions=8192),
    "llama3.1-8b": lambda: llama(4096, 14336, 32, 32, 8, 128256, theta=500000.0, scaling=8.0, positions=131072),
    "llama3.1-70b": lambda: llama(8192, 28672, 80, 64, 8, 128256, theta=500000.0, scaling=8.0, positions=131072),
    "llama3.2-1b": lambda: llama(2048, 8192, 16, 32, 8, 128256, tied=True, theta=500000.0, scaling=32.0,
                                 head_dim=64, positions=131072),
    "llama3.2-3b": lambda: llama(3072, 8192, 28, 24, 8, 128256, tied=True, theta=500000.0, scaling=32.0,
                                 head_dim=128, positions=131072),
    "qwen3-0.6b": lambda: qwen3(1024, 3072, 28, 16, True),
    "qwen3-1.7b": lambda: qwen3(2048, 6144, 28, 16, True),
    "qwen3-4b": lambda: qwen3(2560, 9728, 36, 32, True),
    "qwen3-8b": lambda: qwen3(4096, 12288, 36, 32, False),
    "gemma3-270m": lambda: gemma3(640, 2048, 18, 4, 1, 262144, 512),
    "gemma3-1b": lambda: gemma3(1152, 6912, 26, 4, 1, 262144, 512),
    "gemma3-4b": lambda: gemma3(2560, 10240, 34, 8, 4, 262208, 1024, linear=8.0),
    "phi3-mini": lambda: phi3(32, 32, 32064, False, 2047),
    "phi4-mini": lambda: phi3(24, 8, 200064, True, 262144, partial=0.75, positions=131072),
}

# Phi-3 fuses q/k/v and gate/up: PEFT's modules there are qkv_proj and gate_up_proj.
FUSED_ADAPTERS = {
    "r16_qkv": {"r": 16, "lora_alpha": 32, "target_modules": ["qkv_proj"]},
    "r8_all_linear": {"r": 8, "lora_alpha": 16, "target_modules": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]},
}

ADAPTERS = {
    "r16_q_v": {"r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"]},
    "r8_all_linear": {"r": 8, "lora_alpha": 16,
                      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
}


def trainable_line(config, adapter):
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    wrapped = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **adapter))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        wrapped.print_trainable_parameters()
    return out.getvalue().strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    entries = {}
    for name, make in PRESETS.items():
        config = make()
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        adapters = FUSED_ADAPTERS if name.startswith("phi") else ADAPTERS
        entries[name] = {
            "model_class": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
            "peft_trainable_lines": {key: trainable_line(config, adapter) for key, adapter in adapters.items()},
        }
        if adapters is not ADAPTERS:
            entries[name]["adapters"] = adapters
        print(name, entries[name]["parameters"], list(entries[name]["peft_trainable_lines"].values())[0])
    record = {
        "generator": "scripts/reference/make_preset_reference.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "adapters": ADAPTERS,
        "note": "parameters: sum of numel over model.parameters() of AutoModelForCausalLM.from_config on the meta "
                "device (a tied head counted once); peft_trainable_lines: print_trainable_parameters() after "
                "get_peft_model with each adapter (task_type CAUSAL_LM, other LoraConfig fields default)",
        "presets": entries,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
