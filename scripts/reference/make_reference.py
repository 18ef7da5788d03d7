#!/usr/bin/env python3
"""Recreates the golden reference set in Tests/Fixtures/reference/smollm2 from transformers,
PEFT and bitsandbytes: the numbers Tessera's tests hold its own code to.

Everything runs on the CPU in float32 with one torch thread and sdpa attention, so that a
rerun on another x86-64 machine gives the same bits (observed tolerances are in the fixture
README). Run it through scripts/reference/regenerate.sh, which makes the scratch virtual
environment with the pinned versions and compares the result with the committed files.

    python make_reference.py --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf --out DIR

The inputs (the training chat, the tokenizer strings, the generation prompts) are in
inputs.json beside this script; the random parts (the adapter, the NF4 matrices) are seeded.
"""
import argparse
import contextlib
import io
import json
import math
import os
import platform
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

import bitsandbytes as bnb
import bitsandbytes.functional as bnbf
import gguf
import peft
import safetensors
import safetensors.torch
import tokenizers
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

HF_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
LORA_SEED = 1234
LORA_INIT_STD = 0.02


def versions():
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "bitsandbytes": bnb.__version__,
        "safetensors": safetensors.__version__,
        "tokenizers": tokenizers.__version__,
        "gguf": getattr(gguf, "__version__", "unknown"),
        "numpy": np.__version__,
    }


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
        f.write("\n")


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Model loading. transformers dequantizes the GGUF to float32; that copy is saved once so that
# later loads (fresh models for each adapter, the bitsandbytes base) start from the same weights.


def load_fp32(model_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    return model


def save_fp32_copy(model, tok, directory):
    """Saves the dequantized model as plain float32 safetensors. transformers refuses to save a
    model it loaded from GGUF, and to combine a GGUF file with a bitsandbytes config, so the
    bitsandbytes base and every fresh adapter model load from this copy."""
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.save_pretrained(directory)
    tok.save_pretrained(directory)


def causal_loss(model, ids):
    """Mean next-token cross-entropy over every position (transformers' label shift)."""
    out = model(input_ids=ids, labels=ids)
    return out.loss, out.logits


def last3(logits):
    n = logits.shape[1]
    return {str(p): floats(logits[0, p, :20]) for p in range(n - 3, n)}


def float64_loss(logits, ids):
    lg = logits[0, :-1].double()
    return float(F.cross_entropy(lg, ids[0, 1:]).item())


# ---------------------------------------------------------------------------------------------
# LoRA


def lora_config(r, alpha, targets):
    return LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none",
                      task_type="CAUSAL_LM")


def adapter_key(name):
    # PEFT saves parameters without the adapter name ("default").
    return name.replace(".default", "")


def lora_parameters(model):
    return [(adapter_key(n), p) for n, p in model.named_parameters() if "lora_" in n]


def seeded_adapter(model_dir):
    model = load_fp32(model_dir)
    wrapped = get_peft_model(model, lora_config(8, 16, ["q_proj", "v_proj"]))
    g = torch.Generator().manual_seed(LORA_SEED)
    with torch.no_grad():
        for _, p in lora_parameters(wrapped):  # named_parameters order: layer 0 q A, q B, v A, v B, ...
            p.copy_(torch.randn(p.shape, generator=g) * LORA_INIT_STD)
    wrapped.peft_config["default"].base_model_name_or_path = HF_NAME
    return wrapped


def gradient_norms(model):
    # Per tensor in float32, as torch reports it; the total over every element in float64.
    norms = {k: float(p.grad.norm().item()) for k, p in lora_parameters(model)}
    total = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for _, p in lora_parameters(model)))
    return norms, total


# ---------------------------------------------------------------------------------------------
# The parts of the reference set, one function each.


def make_text(tok, chat, out):
    text = tok.apply_chat_template(chat, tokenize=False)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    templated = tok.apply_chat_template(chat, tokenize=True)
    if hasattr(templated, "keys"):
        templated = templated["input_ids"]
    assert list(templated) == ids, "apply_chat_template(tokenize=True) differs from tokenizing the text"
    write_json(f"{out}/text.json", {
        "messages": chat,
        "chat_template": tok.chat_template,
        "text": text,
        "n_tokens": len(ids),
        "input_ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "note": "apply_chat_template(messages, tokenize=False); ids = tokenizer(text, add_special_tokens=False), "
                "identical to apply_chat_template(tokenize=True). No BOS is added (the GGUF's add_bos_token is false).",
    })
    return torch.tensor([ids])


def make_base(model, ids, out):
    with torch.no_grad():
        loss, logits = causal_loss(model, ids)
    write_json(f"{out}/base.json", {
        "loss": float(loss),
        "loss_float64_recomputed_from_fp32_logits": float64_loss(logits, ids),
        "n_predictions": ids.shape[1] - 1,
        "logits_last3_first20": last3(logits),
        "argmax_last3": [int(x) for x in logits[0, -3:].argmax(-1)],
        "logits_shape": list(logits.shape),
        "attn_implementation": "sdpa",
        "torch_threads": torch.get_num_threads(),
        "note": "loss = mean over t = 0..N-2 of cross_entropy(logits[t], input_ids[t+1]), float32. "
                "Logit keys are 0-based positions in input_ids.",
    })


def make_lora(model_dir, ids, out):
    model = seeded_adapter(model_dir)
    model.save_pretrained(f"{out}/lora_r8_qv")
    os.remove(f"{out}/lora_r8_qv/README.md")  # PEFT's model-card template: no data
    # PEFT writes target_modules from a set, in hash order; sort it so that reruns are identical.
    config_path = f"{out}/lora_r8_qv/adapter_config.json"
    config = json.load(open(config_path, encoding="utf-8"))
    config["target_modules"] = sorted(config["target_modules"])
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)  # as PEFT writes it
    model.train()
    loss, logits = causal_loss(model, ids)
    loss.backward()
    norms, total = gradient_norms(model)
    grads = {k: p.grad.detach().clone().contiguous() for k, p in lora_parameters(model)}
    safetensors.torch.save_file(grads, f"{out}/lora_grads.safetensors", metadata={"format": "pt"})
    write_json(f"{out}/lora.json", {
        "config": {"r": 8, "lora_alpha": 16, "scaling": 2.0, "target_modules": ["q_proj", "v_proj"],
                   "lora_dropout": 0.0, "bias": "none", "task_type": "CAUSAL_LM"},
        "init": f"torch.Generator().manual_seed({LORA_SEED}); for each LoRA parameter in named_parameters() order "
                f"(layer 0 q A, q B, v A, v B, layer 1 ...): p = torch.randn(p.shape, generator=g) * {LORA_INIT_STD}. "
                "The values are in lora_r8_qv/adapter_model.safetensors.",
        "adapter_dir": "lora_r8_qv",
        "adapter_keys": {k: list(p.shape) for k, p in lora_parameters(model)},
        "adapter_dtypes": sorted({str(p.dtype) for _, p in lora_parameters(model)}),
        "loss": float(loss),
        "loss_float64_recomputed_from_fp32_logits": float64_loss(logits, ids),
        "logits_last3_first20": last3(logits),
        "grad_l2_norm": norms,
        "grad_total_l2_norm": total,
        "grads_file": "lora_grads.safetensors",
        "note": "delta W = (lora_alpha / r) B A with A: [r, in], B: [out, r]; h = W x + scaling B (A x). "
                "Gradients are d(mean loss)/d(parameter) on text.json's ids, without clipping.",
    })


def make_adamw(model_dir, ids, out):
    model = load_fp32(model_dir)
    model = PeftModel.from_pretrained(model, f"{out}/lora_r8_qv", is_trainable=True)
    model.train()
    params = [p for _, p in lora_parameters(model)]
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    losses, norms = [], []
    for step in range(3):
        opt.zero_grad()
        loss, _ = causal_loss(model, ids)
        loss.backward()
        losses.append(float(loss))
        norms.append(gradient_norms(model)[1])
        opt.step()
        if step == 0:
            after = {k: p.detach().clone().contiguous() for k, p in lora_parameters(model)}
            safetensors.torch.save_file(after, f"{out}/lora_after_adamw_step1.safetensors", metadata={"format": "pt"})
    with torch.no_grad():
        final, _ = causal_loss(model, ids)
    write_json(f"{out}/adamw_3steps.json", {
        "optimizer": "torch.optim.AdamW(lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0), no gradient clipping, "
                     "no schedule; the same single sequence every step (batch 1, text.json)",
        "loss_before_step": losses,
        "grad_total_l2_norm_before_step": norms,
        "loss_after_3_steps": float(final),
        "params_after_step1_file": "lora_after_adamw_step1.safetensors",
        "note": "step 1 of Adam with bias correction moves every element by about lr * sign(grad) unless |grad| ~ eps",
    })


def make_trainable_params(model_dir, out):
    result = {}
    for key, (r, alpha, targets) in {
        "r16_alpha32_q_proj_v_proj": (16, 32, ["q_proj", "v_proj"]),
        "r8_alpha16_all_linear": (8, 16, "all-linear"),
    }.items():
        model = get_peft_model(load_fp32(model_dir), lora_config(r, alpha, targets))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            model.print_trainable_parameters()
        trainable, total = model.get_nb_trainable_parameters()
        kinds = sorted({n.split(".")[-4] for n, _ in model.named_parameters() if "lora_A" in n})  # ...q_proj.lora_A.default.weight
        result[key] = {"printed": printed.getvalue().strip(), "trainable": trainable, "all": total,
                       "lora_wrapped_module_kinds": kinds}
    write_json(f"{out}/trainable_params.json", result)


def make_model_info(model, out):
    config = model.config.to_dict()
    config["_name_or_path"] = HF_NAME  # not the local directory it was loaded from
    n_unique = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    layer = sum(p.numel() for p in model.model.layers[0].parameters())
    write_json(f"{out}/model_info.json", {
        "n_parameters_unique": n_unique,
        "n_parameters_if_lm_head_counted_separately": n_unique + (embedding if config.get("tie_word_embeddings") else 0),
        "embedding_params": embedding,
        "per_layer_params": layer,
        "tie_word_embeddings": config.get("tie_word_embeddings"),
        "config": config,
        "versions": versions(),
    })


def make_dequant_checks(gguf_path, model, out):
    reader = gguf.GGUFReader(gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    state = model.state_dict()
    names = {
        "token_embd.weight": "model.embed_tokens.weight",
        "blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight",
        "blk.0.attn_v.weight": "model.layers.0.self_attn.v_proj.weight",
        "blk.29.ffn_down.weight": "model.layers.29.mlp.down_proj.weight",
        "output_norm.weight": "model.norm.weight",
    }
    result = {}
    for name, hf_name in names.items():
        t = tensors[name]
        raw = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        hf = state[hf_name].detach().numpy()
        raw = raw.reshape(hf.shape)
        result[name] = {
            "ggml_type": t.tensor_type.name,
            "gguf_ne": [int(x) for x in t.shape],
            "hf_name": hf_name,
            "hf_shape": list(hf.shape),
            "gguf_first8": [float(x) for x in raw.reshape(-1)[:8]],
            "hf_first8": [float(x) for x in hf.reshape(-1)[:8]],
            "gguf_sum": float(raw.astype(np.float64).sum()),
            "hf_sum": float(hf.astype(np.float64).sum()),
            "max_abs_diff_same_layout": float(np.abs(raw - hf).max()),
        }
    result["_note"] = ("attn_q and attn_k are stored permuted in GGUF (llama.cpp's interleaved RoPE layout) and "
                       "transformers un-permutes them per head, so for attn_q the element order differs while the "
                       "sums agree; every other tensor is equal element for element.")
    write_json(f"{out}/dequant_checks.json", result)


# ---------------------------------------------------------------------------------------------
# NF4 (bitsandbytes) byte-exact cases.


def edge_case_matrix():
    """64 x 64, one 64-block per row, each row a case the quantizer must get exactly right."""
    g = torch.Generator().manual_seed(11)
    rows = torch.zeros(64, 64)
    rows[2, 17] = 3.5                                        # a single non-zero
    rows[3] = 0.25                                           # constant blocks
    rows[4] = -1.75
    rows[5] = torch.randn(64, generator=g) * 0.1
    rows[5, 40] = 1e4                                        # outliers
    rows[6] = torch.randn(64, generator=g)
    rows[6, 3] = -3e5
    rows[7] = torch.randn(64, generator=g)
    rows[7, ::2] = 0.0                                       # every other element exactly 0
    mids = torch.tensor([-0.84809637, -0.61063290, -0.45999527, -0.33967942, -0.23460740, -0.13791174,
                         -0.045525018, 0.039790150, 0.12025525, 0.20352125, 0.29201376, 0.38931254,
                         0.50166345, 0.64278692, 0.86147845], dtype=torch.float32)
    tie = torch.cat([mids, torch.nextafter(mids, torch.full_like(mids, 2.0)),
                     torch.nextafter(mids, torch.full_like(mids, -2.0))])
    rows[8, 0] = 1.0                                         # absmax 1: midpoints exactly, then +-1 ulp
    rows[8, 1:1 + tie.numel()] = tie
    codes = torch.tensor([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                          -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                          0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                          0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0])
    rows[9] = (codes * 2).repeat(4)                          # the code values themselves, absmax 2
    rows[10] = torch.randn(64, generator=g) * 1e-30          # tiny and huge scales
    rows[11] = torch.randn(64, generator=g) * 1e20
    for i in range(12, 64):                                  # randn at growing scales
        rows[i] = torch.randn(64, generator=g) * (10.0 ** ((i - 12) / 8.0 - 3.0))
    return rows


def nf4_case(w):
    """bitsandbytes' plain and double-quantized NF4 of w, and what its dequantizer sees."""
    torch_w = w.contiguous()
    packed, state = bnbf.quantize_4bit(torch_w, blocksize=64, quant_type="nf4", compress_statistics=False)
    dq_packed, dq_state = bnbf.quantize_4bit(torch_w, blocksize=64, quant_type="nf4", compress_statistics=True)
    flat = packed.reshape(-1)
    unpacked = torch.stack([flat >> 4, flat & 15], dim=1).reshape(-1)[: w.numel()].reshape(w.shape)
    absmax_dequant = bnbf.dequantize_blockwise(dq_state.absmax, dq_state.state2) + dq_state.offset
    tensors = {
        "input": torch_w,
        "codes": unpacked.to(torch.uint8),
        "nf4.packed": packed,
        "nf4.absmax": state.absmax,
        "nf4.dequant": bnbf.dequantize_4bit(packed, state),
        "nf4dq.packed": dq_packed,
        "nf4dq.absmax_q": dq_state.absmax,
        "nf4dq.nested_absmax": dq_state.state2.absmax,
        "nf4dq.nested_quant_map": dq_state.state2.code,
        "nf4dq.offset": dq_state.offset.reshape(1).float(),
        "nf4dq.absmax_dequant": absmax_dequant.float(),
        "nf4dq.dequant": bnbf.dequantize_4bit(dq_packed, dq_state),
    }
    err_plain = (tensors["nf4.dequant"].double() - w.double())
    err_dq = (tensors["nf4dq.dequant"].double() - w.double())
    offset = float(dq_state.offset)
    meta = {
        "shape": list(w.shape),
        "n_elements": w.numel(),
        "n_blocks": state.absmax.numel(),
        "n_nested_blocks": dq_state.state2.absmax.numel(),
        "packed_shape": list(packed.shape),
        "codes_identical_with_and_without_double_quant": bool(torch.equal(packed, dq_packed)),
        "offset": offset,
        "offset_float32_hex": np.float32(offset).tobytes()[::-1].hex(),
        "offset_equals_float64_mean_rounded_to_float32":
            bool(np.float32(state.absmax.double().mean().item()) == np.float32(offset)),
        "max_abs_err_plain": float(err_plain.abs().max()),
        "max_abs_err_double_quant": float(err_dq.abs().max()),
        "rmse_plain": float(err_plain.pow(2).mean().sqrt()),
        "rmse_double_quant": float(err_dq.pow(2).mean().sqrt()),
    }
    return {k: v.detach().contiguous() for k, v in tensors.items()}, meta


def make_nf4(model, out):
    os.makedirs(f"{out}/nf4", exist_ok=True)
    cases = {
        "W": (torch.randn(96, 320, generator=torch.Generator().manual_seed(7)),
              "torch.randn(96, 320, generator=torch.Generator().manual_seed(7))"),
        "E": (edge_case_matrix(), "edge cases, one per row: see edge_case_matrix() in scripts/reference/make_reference.py"),
        "R": (torch.randn(3, 41, generator=torch.Generator().manual_seed(9)),
              "torch.randn(3, 41, generator=torch.Generator().manual_seed(9)): one full block and a 59-element "
              "last block, an odd count (pad nibble)"),
        "L": (model.model.layers[0].self_attn.k_proj.weight.detach().clone(),
              "model.layers.0.self_attn.k_proj.weight of the float32 model (the GGUF dequantized by transformers)"),
    }
    tensors, meta = {}, {}
    for name, (w, how) in cases.items():
        t, m = nf4_case(w)
        m["how_made"] = how
        meta[name] = m
        tensors.update({f"{name}.{k}": v for k, v in t.items()})
    _, any_state = bnbf.quantize_4bit(cases["W"][0], blocksize=64, quant_type="nf4")
    tensors["quant_map"] = any_state.code.float().contiguous()
    safetensors.torch.save_file(tensors, f"{out}/nf4/nf4_cases.safetensors", metadata={"format": "pt"})
    # The headline error of NF4 on Gaussian weights (the tests check a smaller sample lands near it).
    big = torch.randn(4096, 4096, generator=torch.Generator().manual_seed(0))
    rmse = {}
    for key, dq in (("plain", False), ("double_quant", True)):
        packed, state = bnbf.quantize_4bit(big, blocksize=64, quant_type="nf4", compress_statistics=dq)
        err = bnbf.dequantize_4bit(packed, state).double() - big.double()
        rmse[key] = {"rmse": float(err.pow(2).mean().sqrt()), "mean_abs_err": float(err.abs().mean()),
                     "max_abs_err": float(err.abs().max())}
    rmse["input"] = "torch.randn(4096, 4096, generator=torch.Generator().manual_seed(0)); errors in float64"
    write_json(f"{out}/nf4/nf4_meta.json", {
        "calls": {"plain": "bitsandbytes.functional.quantize_4bit(W, blocksize=64, quant_type='nf4', "
                           "compress_statistics=False), then dequantize_4bit",
                  "double_quant": "the same with compress_statistics=True"},
        "backend": "CPU, float32 input, torch threads = 1",
        "cases": meta,
        "rmse_4096x4096_randn_seed0": rmse,
        "versions": versions(),
    })


# ---------------------------------------------------------------------------------------------
# Tokenizer and generation.


def digit_split_tokenizer(tok):
    """The pre-tokenizer llama.cpp's 'smollm' pre-type declares: digits split, then the GPT-2 regex."""
    backend = tokenizers.Tokenizer.from_str(tok.backend_tokenizer.to_str())
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Sequence([
        tokenizers.pre_tokenizers.Digits(individual_digits=True),
        tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    return backend


def make_tokenizer_cases(tok, texts, out):
    split = digit_split_tokenizer(tok)
    cases, differs = [], 0
    for i, item in enumerate(texts):
        text = item["text"]
        ids = tok(text, add_special_tokens=False)["input_ids"]
        decoded = tok.decode(ids)
        case = {
            "index": i, "category": item["category"], "text": text,
            "n_chars": len(text), "utf8_bytes": len(text.encode("utf-8")),
            "ids": ids, "tokens": tok.convert_ids_to_tokens(ids),
            "decoded": decoded, "decode_roundtrip_equal": decoded == text,
            "decoded_skip_special_tokens": tok.decode(ids, skip_special_tokens=True),
        }
        other = split.encode(text, add_special_tokens=False).ids
        if other != ids:
            case["ids_with_digit_split_pretokenizer"] = other
            differs += 1
        cases.append(case)
    backend = json.loads(tok.backend_tokenizer.to_str())
    model = {k: v for k, v in backend["model"].items() if k not in ("vocab", "merges")}
    write_json(f"{out}/tokenizer_cases.json", {
        "tokenizer": "transformers.AutoTokenizer.from_pretrained(<dir>, gguf_file=<the GGUF>)",
        "tokenizer_class": type(tok).__name__,
        "vocab_size_with_added": len(tok),
        "encode": "tok(text, add_special_tokens=False)['input_ids']",
        "special_tokens_in_text": "added tokens (such as <|im_start|>) are matched literally in the text before BPE "
                                  "(split_special_tokens=False)",
        "decode": "tok.decode(ids) with defaults; decoded_skip_special_tokens = tok.decode(ids, skip_special_tokens=True)",
        "backend_pre_tokenizer": backend.get("pre_tokenizer"),
        "backend_normalizer": backend.get("normalizer"),
        "backend_decoder": backend.get("decoder"),
        "bpe_model": model,
        "digit_split_note": "transformers builds the GGUF's tokenizer with the GPT-2 ByteLevel regex only; the GGUF's "
                            "pre-type 'smollm' (like SmolLM2's own tokenizer.json) first splits every digit. Where the two "
                            "differ, 'ids_with_digit_split_pretokenizer' holds the digit-split ids (Digits(individual_digits"
                            "=True) + ByteLevel), which is the behaviour the model declares.",
        "n_cases": len(cases),
        "n_cases_where_digit_split_differs": differs,
        "cases": cases,
    })


def make_generate(model, tok, prompts, out):
    cases = []
    for messages in prompts:
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        x = torch.tensor([ids])
        with torch.no_grad():
            result = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=20, do_sample=False,
                                    return_dict_in_generate=True, output_logits=True)
        generated = [int(t) for t in result.sequences[0, len(ids):]]
        gaps = []
        for step_logits in result.logits:
            top = torch.topk(step_logits[0].float(), 2).values
            gaps.append(round(float(top[0] - top[1]), 6))
        with torch.no_grad():
            full = model(input_ids=result.sequences).logits[0]
        argmax = [int(t) for t in full[len(ids) - 1:-1].argmax(-1)]
        cases.append({
            "messages": messages, "prompt_text": prompt, "prompt_ids": ids, "n_prompt_tokens": len(ids),
            "generated_ids": generated, "n_generated": len(generated),
            "generated_text": tok.decode(generated),
            "generated_text_skip_special": tok.decode(generated, skip_special_tokens=True),
            "stopped_on_eos": bool(generated and generated[-1] == model.config.eos_token_id),
            "top1_minus_top2_logit_per_step": gaps,
            "full_forward_argmax_equals_generated": argmax == generated,
        })
    write_json(f"{out}/generate.json", {
        "call": "model.generate(input_ids, attention_mask=ones, max_new_tokens=20, do_sample=False), float32, "
                "one torch thread, sdpa attention, KV cache on",
        "prompt": "tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), then "
                  "tok(text, add_special_tokens=False)",
        "stop_rule": f"greedy argmax each step; stops after eos_token_id={model.config.eos_token_id} or 20 tokens; "
                     "generated_ids include the eos token when it was produced",
        "notes": ["top1_minus_top2_logit_per_step: the gap between the two best raw logits at each step; a gap near 0 "
                  "means another implementation may legitimately pick the other token",
                  "full_forward_argmax_equals_generated: the argmax of one forward without cache over prompt + "
                  "generated reproduces the generated ids"],
        "cases": cases,
        "versions": versions(),
    })


# ---------------------------------------------------------------------------------------------
# QLoRA: the decoder's linears in bitsandbytes NF4, float32 compute.


def linear4bit_modules(model):
    return [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]


def quantized_model(model_dir, double_quant):
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32,
                                bnb_4bit_use_double_quant=double_quant)
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=config, device_map="cpu",
                                                 dtype=torch.float32, attn_implementation="sdpa")
    # On CPUs with AVX512-BF16, bitsandbytes would repack the weights to a bf16 kernel on the first
    # inference-mode call; the float32 path is the one Tessera reproduces, and the one other CPUs take.
    for m in linear4bit_modules(model):
        m.support_avx512bf16_for_cpu = False
    model.eval()
    return model


def dequantized_twin(model_dir, qmodel):
    """The float32 model whose decoder linears hold dequantize_4bit(quantize_4bit(W))."""
    twin = load_fp32(model_dir)
    quantized = dict(qmodel.named_modules())
    with torch.no_grad():
        for name, m in twin.named_modules():
            q = quantized.get(name)
            if isinstance(q, bnb.nn.Linear4bit):
                m.weight.copy_(bnbf.dequantize_4bit(q.weight.data, q.weight.quant_state).reshape(m.weight.shape))
    return twin


def make_qlora(model_dir, ids, out):
    result = {
        "what": "SmolLM2 with every nn.Linear of the decoder (q, k, v, o, gate, up, down) quantized to NF4 by "
                "BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_compute_dtype=float32, "
                "bnb_4bit_use_double_quant=False|True), device_map='cpu', loaded from a float32 save of the "
                "GGUF-dequantized model. The tied embedding and the norms stay float32. Then lora_r8_qv through "
                "PeftModel.from_pretrained(is_trainable=True), train(), one forward and backward on text.json.",
        "compute_path": "Linear4bit: W' = dequantize_4bit(packed) in float32, then F.linear(x, W'); the flag "
                        "base_logits_bitwise_equal_fp32_model_with_dequantized_weights checks it.",
        "avx512_bf16_caveat": "bitsandbytes' bf16 CPU kernel (taken on AVX512-BF16 CPUs after an inference-mode call) "
                              "is disabled with support_avx512bf16_for_cpu = False, as CPUs without AVX512-BF16 do.",
        "versions": versions(),
    }
    for key, dq in (("plain", False), ("double_quant", True)):
        qmodel = quantized_model(model_dir, dq)
        with torch.no_grad():
            base_loss, base_logits = causal_loss(qmodel, ids)
            twin_logits = dequantized_twin(model_dir, qmodel)(input_ids=ids).logits
        lora = PeftModel.from_pretrained(qmodel, f"{out}/lora_r8_qv", is_trainable=True)
        lora.train()
        loss, logits = causal_loss(lora, ids)
        loss.backward()
        norms, total = gradient_norms(lora)
        result[key] = {
            "n_linear4bit_modules": len(linear4bit_modules(qmodel)),
            "base_loss": float(base_loss),
            "base_logits_last_first20": floats(base_logits[0, -1, :20]),
            "base_logits_bitwise_equal_fp32_model_with_dequantized_weights": bool(torch.equal(base_logits, twin_logits)),
            "lora_loss": float(loss),
            "lora_logits_last_first20": floats(logits[0, -1, :20]),
            "lora_grad_total_l2_norm": total,
            "lora_grad_l2_norm": norms,
        }
    write_json(f"{out}/qlora_nf4.json", result)


# ---------------------------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", required=True, help="the SmolLM2-135M-Instruct GGUF (scripts/setup.sh fetches it)")
    parser.add_argument("--out", required=True, help="output directory (created; existing files are replaced)")
    parser.add_argument("--inputs", default=os.path.join(here, "inputs.json"))
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    inputs = json.load(open(args.inputs, encoding="utf-8"))
    out = args.out
    os.makedirs(out, exist_ok=True)

    with tempfile.TemporaryDirectory() as work:
        # transformers reads a GGUF from a directory; link the file in rather than copying 100 MB.
        gguf_path = os.path.abspath(args.gguf)
        name = os.path.basename(gguf_path)
        os.symlink(gguf_path, f"{work}/{name}")
        model = AutoModelForCausalLM.from_pretrained(work, gguf_file=name, dtype=torch.float32,
                                                     attn_implementation="sdpa")
        model.eval()
        tok = AutoTokenizer.from_pretrained(work, gguf_file=name)
        step = lambda what: print(f"[make_reference] {what}", file=sys.stderr, flush=True)
        step("text.json, base.json")
        ids = make_text(tok, inputs["training_chat"], out)
        make_base(model, ids, out)
        step("model_info.json, dequant_checks.json")
        make_model_info(model, out)
        make_dequant_checks(gguf_path, model, out)
        fp32_dir = f"{work}/fp32"
        save_fp32_copy(model, tok, fp32_dir)
        step("tokenizer_cases.json")
        make_tokenizer_cases(tok, inputs["tokenizer_cases"], out)
        step("generate.json")
        make_generate(model, tok, inputs["generation_prompts"], out)
        step("nf4/")
        make_nf4(model, out)
        del model
        step("lora_r8_qv/, lora.json, lora_grads.safetensors")
        make_lora(fp32_dir, ids, out)
        step("adamw_3steps.json, lora_after_adamw_step1.safetensors")
        make_adamw(fp32_dir, ids, out)
        step("trainable_params.json")
        make_trainable_params(fp32_dir, out)
        step("qlora_nf4.json")
        make_qlora(fp32_dir, ids, out)
    write_json(f"{out}/versions.json", {"generator": "scripts/reference/make_reference.py", "versions": versions()})
    step("done")


if __name__ == "__main__":
    main()
