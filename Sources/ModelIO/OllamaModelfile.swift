// An Ollama Modelfile for an exported GGUF (`ollama create NAME -f <file>.Modelfile`): FROM the
// file beside it, the chat TEMPLATE in Ollama's Go-template syntax when the model's Jinja template
// is a family Tessera knows (ChatML, Llama 3), its default SYSTEM prompt, and the PARAMETER stop
// strings that end a turn. Unknown templates get no TEMPLATE, so Ollama falls back to the GGUF's
// own `tokenizer.chat_template`.

import LlamaModel
import ModelFormats
import Tokenization

/// The Modelfile text for `ggufFileName` (a name relative to the Modelfile's directory).
public func ollamaModelfile(ggufFileName: String, tokenizer: GGUFTokenizerMetadata) -> String {
    var lines = ["# Written by tessera merge. Load with: ollama create <name> -f <this file>",
                 "FROM ./\(ggufFileName)"]
    let metadata = Dictionary(tokenizer.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    let family = metadata["tokenizer.chat_template"]?.string.flatMap { try? ChatTemplate(template: $0) }
    var stops: [String] = []
    if let family {
        switch family.family {
        case .chatml:
            lines.append("TEMPLATE \"\"\"{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                         + "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
                         + "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n\"\"\"")
            stops = ["<|im_start|>", "<|im_end|>"]
        case .llama3:
            lines.append("TEMPLATE \"\"\"{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
                         + "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
                         + "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>\"\"\"")
            stops = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        }
        if let system = family.defaultSystemPrompt, !system.contains("\"\"\"") {
            lines.append("SYSTEM \"\"\"\(system)\"\"\"")
        }
    }
    // The end-of-sequence token's text, when the tokenizer names one.
    if case .array(let tokens)? = metadata["tokenizer.ggml.tokens"],
       let eos = metadata["tokenizer.ggml.eos_token_id"]?.int, tokens.indices.contains(eos),
       let text = tokens[eos].string, !text.isEmpty, !stops.contains(text) {
        stops.append(text)
    }
    for stop in stops where !stop.contains("\"") { lines.append("PARAMETER stop \"\(stop)\"") }
    return lines.joined(separator: "\n") + "\n"
}
