import Foundation

// Reading a Hugging Face `tokenizer.json` (and optionally `tokenizer_config.json`) into a
// definition. Only byte-level BPE is accepted; anything this tokenizer would get wrong is an error.

extension TokenizerDefinition {
    /// Known `Split` regexes, as written in `tokenizer.json`, and the scanner that implements each.
    static let knownSplitPatterns: [String: PreTokenizer] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
    ]

    /// Parses a Hugging Face `tokenizer.json` whose model is byte-level BPE.
    ///
    /// - Parameters:
    ///   - data: the `tokenizer.json` contents: `model` (type `BPE`, `vocab`, `merges` as
    ///     `"a b"` strings or `["a", "b"]` pairs, `ignore_merges`), `added_tokens` (with
    ///     `special`), `pre_tokenizer` (`Sequence` of `ByteLevel`, `Split`, `Digits`) and
    ///     `post_processor` (a `TemplateProcessing` that adds BOS).
    ///   - tokenizerConfig: optional `tokenizer_config.json` contents, for `bos_token`,
    ///     `eos_token`, `pad_token`, `add_bos_token` and `chat_template`.
    public static func fromTokenizerJSON(data: Data, tokenizerConfig: Data? = nil) throws -> TokenizerDefinition {
        let root = try jsonObject(data, "tokenizer.json")
        guard let model = root["model"] as? [String: Any] else { throw invalid("tokenizer.json has no 'model' object") }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw invalid("model.type is '\(type)'; only byte-level 'BPE' tokenizers are supported") }
        if model["byte_fallback"] as? Bool == true {
            throw invalid("model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw invalid("model.vocab is missing or not an object") }

        // Token strings by id, from the vocabulary and the added tokens.
        var byID: [Int: String] = [:]
        var types: [Int: Int] = [:]
        for (token, value) in vocab {
            guard let id = value as? Int, id >= 0 else { throw invalid("model.vocab['\(token)'] is not a non-negative integer id") }
            byID[id] = token
        }
        for (index, entry) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
            guard let id = entry["id"] as? Int, id >= 0, let content = entry["content"] as? String else {
                throw invalid("added_tokens[\(index)] needs an integer 'id' and a string 'content'")
            }
            byID[id] = content
            types[id] = entry["special"] as? Bool == true ? TokenType.control : TokenType.userDefined
        }
        let count = (byID.keys.max() ?? -1) + 1
        var tokens: [String] = []
        tokens.reserveCapacity(count)
        for id in 0..<count {
            guard let token = byID[id] else { throw invalid("token id \(id) is in neither model.vocab nor added_tokens") }
            tokens.append(token)
        }
        let tokenTypes = (0..<count).map { types[$0] ?? TokenType.normal }
        let idsByToken = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })

        var definition = TokenizerDefinition(
            tokens: tokens,
            merges: try mergeLines(model["merges"]),
            tokenTypes: tokenTypes,
            preTokenizer: try preTokenizer(root["pre_tokenizer"]),
            bosTokenID: try templateBOS(root["post_processor"], idsByToken),
            ignoreMerges: model["ignore_merges"] as? Bool ?? false)
        definition.addBOS = definition.bosTokenID != nil
        if let tokenizerConfig {
            try definition.apply(config: try jsonObject(tokenizerConfig, "tokenizer_config.json"), idsByToken)
        }
        return definition
    }

    private static func invalid(_ detail: String) -> TokenizationError { .invalidTokenizer(detail) }

    private static func jsonObject(_ data: Data, _ name: String) throws -> [String: Any] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw invalid("\(name) is not valid JSON: \(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else { throw invalid("\(name) is not a JSON object") }
        return dictionary
    }

    /// `model.merges`: `"a b"` strings (older files) or `["a", "b"]` pairs (newer ones).
    private static func mergeLines(_ value: Any?) throws -> [String] {
        guard let entries = value as? [Any] else { throw invalid("tokenizer has no merges (model.merges is missing)") }
        return try entries.enumerated().map { index, entry in
            if let line = entry as? String { return line }
            if let pair = entry as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            throw invalid("model.merges[\(index)] is neither \"a b\" nor [\"a\", \"b\"]")
        }
    }

    /// Maps the pre-tokenizer steps onto one of the hand-written scanners.
    private static func preTokenizer(_ value: Any?) throws -> PreTokenizer {
        guard let step = value as? [String: Any] else {
            throw invalid("tokenizer.json has no pre_tokenizer; byte-level BPE needs at least a ByteLevel step")
        }
        let steps = step["type"] as? String == "Sequence" ? (step["pretokenizers"] as? [[String: Any]] ?? []) : [step]
        var splitsDigits = false
        var pattern: PreTokenizer?
        for step in steps {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Digits":
                guard step["individual_digits"] as? Bool == true else {
                    throw invalid("pre_tokenizer Digits with individual_digits=false is not supported")
                }
                splitsDigits = true
            case "ByteLevel":
                if step["add_prefix_space"] as? Bool == true {
                    throw invalid("pre_tokenizer ByteLevel with add_prefix_space=true is not supported")
                }
                if step["use_regex"] as? Bool ?? true { pattern = pattern ?? .gpt2 }
            case "Split":
                let regex = (step["pattern"] as? [String: Any])?["Regex"] as? String ?? ""
                guard let known = knownSplitPatterns[regex] else {
                    throw invalid("pre_tokenizer Split pattern '\(regex)' is not one of the supported GPT-2, Llama-3 or Qwen2 patterns")
                }
                pattern = known
            default:
                throw invalid("pre_tokenizer step '\(type)' is not supported (supported: Sequence, ByteLevel, Split, Digits)")
            }
        }
        switch (pattern, splitsDigits) {
        case (.gpt2?, true): return .smollm
        case (let pattern?, false): return pattern
        case (.some, true): throw invalid("pre_tokenizer Digits combined with a Llama-3 or Qwen2 Split is not supported")
        case (nil, _): throw invalid("pre_tokenizer has no word-splitting regex (ByteLevel use_regex or Split)")
        }
    }

    /// The BOS id a `TemplateProcessing` post-processor puts in front of a single sequence.
    private static func templateBOS(_ value: Any?, _ ids: [String: Int]) throws -> Int? {
        guard let processor = value as? [String: Any] else { return nil }
        if processor["type"] as? String == "Sequence" {
            for inner in processor["processors"] as? [Any] ?? [] {
                if let id = try templateBOS(inner, ids) { return id }
            }
            return nil
        }
        guard processor["type"] as? String == "TemplateProcessing",
              let first = (processor["single"] as? [[String: Any]])?.first,
              let special = first["SpecialToken"] as? [String: Any],
              let name = special["id"] as? String else { return nil }
        guard let id = ids[name] else { throw invalid("post_processor adds '\(name)', which is not in the vocabulary") }
        return id
    }

    /// Applies `tokenizer_config.json`: special token names, `add_bos_token`, `chat_template`.
    private mutating func apply(config: [String: Any], _ ids: [String: Int]) throws {
        func tokenID(_ key: String) throws -> Int? {
            // Either "<|im_end|>" or {"content": "<|im_end|>", ...}.
            let name = config[key] as? String ?? (config[key] as? [String: Any])?["content"] as? String
            guard let name else { return nil }
            guard let id = ids[name] else { throw Self.invalid("tokenizer_config.json \(key) '\(name)' is not in the vocabulary") }
            return id
        }
        bosTokenID = try tokenID("bos_token") ?? bosTokenID
        eosTokenID = try tokenID("eos_token") ?? eosTokenID
        padTokenID = try tokenID("pad_token") ?? padTokenID
        if let addBOS = config["add_bos_token"] as? Bool { self.addBOS = addBOS }
        if let template = config["chat_template"] as? String {
            chatTemplate = template
        } else if let templates = config["chat_template"] as? [[String: Any]] {
            // Named templates: the one called "default" is the chat template.
            chatTemplate = templates.first { $0["name"] as? String == "default" }?["template"] as? String
        }
    }
}
