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
    var stops: [String] = []
    if let source = metadata["tokenizer.chat_template"]?.string {
        let markers = ollamaTemplate(forJinja: source)
        if let markers {
            lines.append("TEMPLATE \"\"\"\(markers.template)\"\"\"")
            stops = markers.stops
        }
        if let system = defaultSystemPrompt(of: source), !system.contains("\"\"\"") {
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

/// Ollama's Go-template form of a ChatML or Llama-3 template (recognised by their header tokens;
/// Ollama reads its own syntax, so this is a translation of the layout, not a rendering).
private func ollamaTemplate(forJinja source: String) -> (template: String, stops: [String])? {
    if source.contains("<|im_start|>") {
        return ("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                + "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
                + "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n", ["<|im_start|>", "<|im_end|>"])
    }
    if source.contains("<|start_header_id|>") {
        return ("{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
                + "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>",
                ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    }
    return nil
}

/// The system message the template writes for a conversation that has none, found by rendering
/// one user turn: the text of a ChatML system turn in front of it, if there is one.
private func defaultSystemPrompt(of source: String) -> String? {
    let marker = "\u{1}user\u{1}"
    guard let template = try? ChatTemplate(source: source, origin: "tokenizer.chat_template"),
          let text = try? template.render([ChatMessage(role: "user", content: marker)], addGenerationPrompt: false),
          let user = text.range(of: marker) else { return nil }
    let head = text[..<user.lowerBound]
    let open = "<|im_start|>system\n"
    guard let start = head.range(of: open), let end = head.range(of: "<|im_end|>", range: start.upperBound..<head.endIndex) else { return nil }
    let system = String(head[start.upperBound..<end.lowerBound])
    return system.isEmpty ? nil : system
}
