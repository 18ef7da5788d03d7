#!/usr/bin/env python3
"""Makes the malformed inputs of scripts/test_bad_inputs.sh, and the fuzz seed corpus.

    bad_inputs.py files MODEL.gguf ADAPTER_DIR OUT_DIR   every broken model/adapter/data file
    bad_inputs.py corpus FUZZ_CORPUS_DIR                 tiny seeds for scripts/fuzz.sh

Python stdlib only. GGUF variants are the real model with one thing changed (found by walking
its header, so offsets are exact); safetensors variants are the reference PEFT adapter with its
JSON header edited.
"""
import json
import os
import struct
import sys

# GGUF value types (gguf.c): fixed sizes; 8 = string, 9 = array.
GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_layout(data):
    """Walks a GGUF header: returns the kv entries and tensor infos with their byte offsets."""
    pos = 24
    n_tensors, n_kv = struct.unpack_from('<QQ', data, 8)

    def string(p):
        (n,) = struct.unpack_from('<Q', data, p)
        return data[p + 8:p + 8 + n].decode(), p + 8 + n

    def value(p, kind):
        if kind in GGUF_SIZES:
            return p + GGUF_SIZES[kind]
        if kind == 8:
            return string(p)[1]
        item, count = struct.unpack_from('<IQ', data, p)
        p += 12
        for _ in range(count):
            p = value(p, item)
        return p

    kvs = []
    for _ in range(n_kv):
        start = pos
        key, pos = string(pos)
        (kind,) = struct.unpack_from('<I', data, pos)
        kvs.append({'key': key, 'start': start, 'type_at': pos, 'value_at': pos + 4, 'type': kind})
        pos = value(pos + 4, kind)
    tensors = []
    for _ in range(n_tensors):
        start = pos
        name, pos = string(pos)
        (n_dims,) = struct.unpack_from('<I', data, pos)
        dims = list(struct.unpack_from('<%dQ' % n_dims, data, pos + 4))
        dims_at = pos + 4
        pos += 4 + 8 * n_dims
        kind, offset = struct.unpack_from('<IQ', data, pos)
        tensors.append({'name': name, 'start': start, 'n_dims_at': dims_at - 4, 'dims_at': dims_at,
                        'dims': dims, 'type_at': pos, 'type': kind, 'offset_at': pos + 4, 'offset': offset})
        pos += 12
    return kvs, tensors


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def patch(data, at, fmt, *values):
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def gguf_cases(model, out):
    data = open(model, 'rb').read()
    kvs, tensors = gguf_layout(data)
    by_name = {t['name']: t for t in tensors}
    kv = {k['key']: k for k in kvs}
    q = by_name['blk.0.attn_q.weight']
    gate = by_name['blk.0.ffn_gate.weight']
    cases = {
        'gguf_empty': b'',
        'gguf_truncated_header': data[:1000],
        'gguf_truncated_data': data[:len(data) - 4096],
        'gguf_wrong_magic': b'GGML' + data[4:],
        'gguf_bad_version': patch(data, 4, '<I', 99),
        'gguf_absurd_tensor_count': patch(data, 8, '<Q', 1 << 62),
        'gguf_absurd_kv_count': patch(data, 16, '<Q', 1 << 62),
        'gguf_absurd_key_length': patch(data, kvs[0]['start'], '<Q', 1 << 63),
        'gguf_bad_value_type': patch(data, kvs[1]['type_at'], '<I', 77),
        'gguf_absurd_offset': patch(data, q['offset_at'], '<Q', 1 << 60),
        'gguf_misaligned_offset': patch(data, q['offset_at'], '<Q', q['offset'] + 1),
        'gguf_overlapping_tensors': patch(data, by_name['blk.0.attn_k.weight']['offset_at'], '<Q', q['offset']),
        'gguf_bad_dtype': patch(data, q['type_at'], '<I', 250),
        # Q4_1 (20 bytes per 32) relabelled F32 (128 bytes per 32): the data no longer fits.
        'gguf_wrong_dtype_size': patch(data, q['type_at'], '<I', 0),
        'gguf_absurd_dimension': patch(data, q['dims_at'], '<Q', 1 << 40),
        'gguf_too_many_dims': patch(data, q['n_dims_at'], '<I', 9),
        # Same-length rename: the layout stays valid, the model lacks the tensor.
        'gguf_missing_tensor': data.replace(b'blk.0.attn_q.weight', b'blk.0.attn_x.weight', 1),
        # ffn_gate [576, 1536] stored as [1536, 576]: same bytes, wrong shape for the config.
        'gguf_shape_mismatch': patch(data, gate['dims_at'], '<QQ', gate['dims'][1], gate['dims'][0]),
        # The metadata says 31 layers; blk.30.* does not exist.
        'gguf_missing_layer': patch(data, kv['llama.block_count']['value_at'], '<I', 31),
        'gguf_wrong_metadata_type': patch(data, kv['llama.block_count']['type_at'], '<I', 6),
    }
    for name, content in cases.items():
        write(os.path.join(out, name + '.gguf'), content)


def safetensors_parts(path):
    data = open(path, 'rb').read()
    (n,) = struct.unpack_from('<Q', data, 0)
    return json.loads(data[8:8 + n]), data[8 + n:]


def safetensors_bytes(header, body, pad=True):
    text = json.dumps(header, separators=(',', ':')).encode()
    if pad:
        text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + body


def adapter_cases(adapter, out):
    """Broken copies of a PEFT adapter directory: one edited file each."""
    config = open(os.path.join(adapter, 'adapter_config.json'), 'rb').read()
    weights_path = os.path.join(adapter, 'adapter_model.safetensors')
    weights = open(weights_path, 'rb').read()
    header, body = safetensors_parts(weights_path)
    names = sorted(k for k in header if k != '__metadata__')
    first_a = next(k for k in names if k.endswith('lora_A.weight'))
    first_b = next(k for k in names if k.endswith('lora_B.weight'))

    def edited(change):
        h = json.loads(json.dumps(header))
        change(h)
        return safetensors_bytes(h, body)

    def shift(h):
        h[first_a]['data_offsets'] = [o + (1 << 50) for o in h[first_a]['data_offsets']]

    def overlap(h):
        h[first_b]['data_offsets'] = list(h[first_a]['data_offsets'])

    def dtype(h):
        h[first_a]['dtype'] = 'F64'

    def missing(h):
        del h[first_b]

    def shape(h):
        r, cols = h[first_a]['shape']
        h[first_a]['shape'] = [cols, r]

    def bogus_dtype(h):
        h[first_a]['dtype'] = 'F13'

    cases = {
        'st_truncated': (config, weights[:len(weights) // 2]),
        'st_wrong_header_length': (config, struct.pack('<Q', 1 << 60) + weights[8:]),
        'st_header_not_json': (config, struct.pack('<Q', 16) + b'{not json at all' + body),
        'st_absurd_offsets': (config, edited(shift)),
        'st_overlapping_tensors': (config, edited(overlap)),
        'st_wrong_dtype_size': (config, edited(dtype)),
        'st_unknown_dtype': (config, edited(bogus_dtype)),
        'st_missing_tensor': (config, edited(missing)),
        'st_shape_mismatch': (config, edited(shape)),
        # adapter_config.json says r 16 and other targets: the stored tensors do not fit.
        'adapter_other_rank': (config.replace(b'"r": 8', b'"r": 16'), weights),
        'adapter_other_targets': (config.replace(b'"q_proj",\n    "v_proj"', b'"k_proj",\n    "o_proj"'), weights),
        'adapter_config_wrong_type': (config.replace(b'"r": 8', b'"r": "eight"'), weights),
    }
    for name, (cfg, st) in cases.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, 'adapter_config.json'), cfg)
        write(os.path.join(d, 'adapter_model.safetensors'), st)


def data_cases(out):
    chat = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
    cases = {
        'jsonl_empty': b'',
        'jsonl_blank_lines': b'\n\n  \n',
        'jsonl_invalid_utf8': chat.encode() + b'{"text": "caf\xc3\x28 \xff"}\n',
        'jsonl_invalid_json': chat.encode() + b'{"messages": [\n',
        'jsonl_not_object': chat.encode() + b'[1, 2, 3]\n',
        'jsonl_no_usable_field': chat.encode() + b'{"question": "why?", "answer": "because"}\n',
        'jsonl_bad_role': b'{"messages": [{"role": "wizard", "content": "hi"}]}\n',
        'jsonl_wrong_type': b'{"text": 42}\n',
        'jsonl_no_assistant': b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 4,
        'jsonl_token_out_of_range': b'{"input_ids": [1, 2, 999999]}\n',
    }
    for name, content in cases.items():
        write(os.path.join(out, name + '.jsonl'), content)


def tiny_gguf():
    """A valid 2-tensor GGUF v3 (F32 and Q8_0) with a few metadata kinds, for the fuzz corpus."""
    def s(text):
        b = text.encode()
        return struct.pack('<Q', len(b)) + b
    kv = [s('general.architecture') + struct.pack('<I', 8) + s('llama'),
          s('llama.block_count') + struct.pack('<II', 4, 1),
          s('general.alignment') + struct.pack('<II', 4, 32),
          s('tokenizer.ggml.tokens') + struct.pack('<IIQ', 9, 8, 2) + s('a') + s('b'),
          s('x.f') + struct.pack('<If', 6, 1.5)]
    tensors = [s('a.weight') + struct.pack('<IQQIQ', 2, 4, 2, 0, 0),
               s('b.weight') + struct.pack('<IQIQ', 1, 32, 8, 32)]
    head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)) + b''.join(kv) + b''.join(tensors)
    head += b'\0' * (-len(head) % 32)
    return head + struct.pack('<8f', *range(8)) + struct.pack('<e', 0.5) + bytes(range(32))


def corpus(out):
    seeds = {
        'gguf': {'tiny.gguf': tiny_gguf(), 'magic': b'GGUF\x03\0\0\0', 'junk': b'GGUF' + b'\xff' * 20},
        'safetensors': {
            'tiny': safetensors_bytes({'__metadata__': {'format': 'pt'},
                                       'a': {'dtype': 'F32', 'shape': [2, 2], 'data_offsets': [0, 16]},
                                       'b': {'dtype': 'BF16', 'shape': [2], 'data_offsets': [16, 20]}},
                                      struct.pack('<4f', 1, 2, 3, 4) + b'\x80\x3f\x00\x40'),
            'empty_header': safetensors_bytes({}, b''),
            'short': b'\x08\0\0\0\0\0\0\0{}',
        },
        'tokenizer': {'text': b'\x00Hello, world! <|im_start|>user\nhi<|im_end|>',
                      'special': b'\x80<|im_start|>assistant caf\xc3\xa9',
                      'ids': b'\x01' + bytes([1, 0, 255, 255, 0, 1, 0xff, 0xbf]),
                      'json': b'\x02{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}'},
        'datarow': {'chat': b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
                    'pc': b'{"prompt": "a", "completion": "b"}', 'text': b'{"text": "x"}',
                    'ids': b'{"input_ids": [1, 2], "labels": [-100, 2]}', 'bad': b'{"text": 1'},
        'loraconfig': {'minimal': b'{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "peft_type": "LORA"}',
                       'all': b'{"r": 4, "target_modules": "all-linear", "use_rslora": true, "init_lora_weights": "gaussian"}',
                       'bad': b'{"r": -1}'},
        'trainconfig': {'full': json.dumps({'model': 'm.gguf', 'data': {'train': 'a.jsonl', 'format': 'chat'},
                                            'lora': {'r': 8, 'alpha': 16, 'targets': ['q_proj']},
                                            'optimizer': {'lr': 1e-3, 'betas': [0.9, 0.99]},
                                            'schedule': {'type': 'cosine', 'warmup': 2},
                                            'steps': 10, 'tp': 1}).encode(),
                        'unknown': b'{"stepz": 3}', 'wrong_type': b'{"steps": "ten"}'},
    }
    for harness, files in seeds.items():
        d = os.path.join(out, harness)
        os.makedirs(d, exist_ok=True)
        for name, content in files.items():
            write(os.path.join(d, name), content)


if __name__ == '__main__':
    if sys.argv[1] == 'files':
        model, adapter, out = sys.argv[2:5]
        os.makedirs(out, exist_ok=True)
        gguf_cases(model, out)
        adapter_cases(adapter, out)
        data_cases(out)
    elif sys.argv[1] == 'corpus':
        corpus(sys.argv[2])
    else:
        sys.exit('usage: bad_inputs.py files MODEL ADAPTER OUT | corpus DIR')
