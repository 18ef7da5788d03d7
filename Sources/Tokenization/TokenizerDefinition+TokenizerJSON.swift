import Foundation

// Reading a Hugging Face `tokenizer.json` (and optionally `tokenizer_config.json`) into a
// definition. Byte-level BPE and SentencePiece-style BPE (`byte_fallback`, Llama 2 / Mistral) are
// accepted; anything this tokenizer would get wrong is an error.

extension TokenizerDefinition {
    /// Known `Split` regexes, as written in `tokenizer.json`, and the scanner that implements each.
    static let knownSplitPatterns: [String: PreTokenizer] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .gpt4o,
    ]

    /// Parses a Hugging Face `tokenizer.json` whose model is byte-level BPE, or SentencePiece-style
    /// BPE (`byte_fallback: true`: a `Prepend("▁")` + `Replace(" ", "▁")` normalizer or a
    /// `Metaspace` pre-tokenizer, and the `Replace` / `ByteFallback` / `Fuse` / `Strip` decoders).
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
        guard type == "BPE" else { throw invalid("model.type is '\(type)'; only 'BPE' tokenizers (byte-level or with byte_fallback) are supported") }
        let byteFallback = model["byte_fallback"] as? Bool == true
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
        let tokenTypes = (0..<count).map { id in
            types[id] ?? (byteFallback && BPETokenizer.byteValue(ofPiece: tokens[id]) != nil ? TokenType.byte : TokenType.normal)
        }
        let idsByToken = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })

        var definition = TokenizerDefinition(
            tokens: tokens,
            merges: try mergeLines(model["merges"]),
            tokenTypes: tokenTypes,
            preTokenizer: byteFallback ? .gpt2 : try preTokenizer(root["pre_tokenizer"]),
            bosTokenID: try templateBOS(root["post_processor"], idsByToken),
            ignoreMerges: model["ignore_merges"] as? Bool ?? false)
        if byteFallback {
            guard definition.ignoreMerges == false else { throw invalid("model.ignore_merges with byte_fallback is not supported") }
            definition.sentencePiece = try sentencePieceOptions(root)
            if let unknown = model["unk_token"] as? String {
                guard let id = idsByToken[unknown] else { throw invalid("model.unk_token '\(unknown)' is not in the vocabulary") }
                definition.unknownTokenID = id
            }
        }
        definition.addBOS = definition.bosTokenID != nil
        if let tokenizerConfig {
            try definition.apply(config: try jsonObject(tokenizerConfig, "tokenizer_config.json"), idsByToken)
        }
        return definition
    }

    private static func invalid(_ detail: String) -> TokenizationError { .invalidTokenizer(detail) }

    private static func jsonObject(_ data: Data, _ name: String) throws -> [String: Any] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: escapingByteOrderMarks(data)) } catch {
            throw invalid("\(name) is not valid JSON: \(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else { throw invalid("\(name) is not a JSON object") }
        return dictionary
    }

    /// swift-corelibs-foundation's JSONSerialization drops a U+FEFF at the start of a string (the
    /// SentencePiece piece "\u{FEFF}" of Llama 2 / Mistral would vanish), but keeps an escaped one:
    /// so every raw U+FEFF after the first byte (only strings can hold one) is written `\ufeff`.
    static func escapingByteOrderMarks(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        guard bytes.count > 3 else { return data }
        var output: [UInt8] = []
        var index = 0
        var changed = false
        while index < bytes.count {
            if index > 0 && index + 2 < bytes.count && bytes[index] == 0xEF && bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF {
                if !changed { output.reserveCapacity(bytes.count + 16); output.append(contentsOf: bytes[0..<index]); changed = true }
                output.append(contentsOf: Array("\\ufeff".utf8))
                index += 3
                continue
            }
            if changed { output.append(bytes[index]) }
            index += 1
        }
        return changed ? Data(output) : data
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
                    throw invalid("pre_tokenizer Split pattern '\(regex)' is not one of the supported GPT-2, Llama-3, Qwen2 or GPT-4o patterns")
                }
                pattern = known
            default:
                throw invalid("pre_tokenizer step '\(type)' is not supported (supported: Sequence, ByteLevel, Split, Digits)")
            }
        }
        switch (pattern, splitsDigits) {
        case (.gpt2?, true): return .smollm
        case (let pattern?, false): return pattern
        case (.some, true): throw invalid("pre_tokenizer Digits combined with a Llama-3, Qwen2 or GPT-4o Split is not supported")
        case (nil, _): throw invalid("pre_tokenizer has no word-splitting regex (ByteLevel use_regex or Split)")
        }
    }

    /// The SentencePiece settings a byte-fallback `tokenizer.json` spells with its normalizer,
    /// pre-tokenizer and decoder; any other step is an error.
    private static func sentencePieceOptions(_ root: [String: Any]) throws -> SentencePieceOptions {
        func steps(_ value: Any?, _ listKey: String) -> [[String: Any]] {
            guard let step = value as? [String: Any] else { return [] }
            return step["type"] as? String == "Sequence" ? (step[listKey] as? [[String: Any]] ?? []) : [step]
        }
        func string(_ pattern: Any?) -> String? { (pattern as? [String: Any])?["String"] as? String }

        var prefix: SentencePieceOptions.SpacePrefix = .never
        var escapesSpaces = false
        for step in steps(root["normalizer"], "normalizers") {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Prepend" where step["prepend"] as? String == "\u{2581}" && !escapesSpaces:
                prefix = .always
            case "Replace" where string(step["pattern"]) == " " && step["content"] as? String == "\u{2581}":
                escapesSpaces = true
            default:
                throw invalid("normalizer step \(type) \(step) is not supported with byte_fallback (supported: Prepend(\"▁\") then Replace(\" \", \"▁\"))")
            }
        }
        for step in steps(root["pre_tokenizer"], "pretokenizers") {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Metaspace" where step["replacement"] as? String ?? "\u{2581}" == "\u{2581}":
                guard step["split"] as? Bool == false else {
                    throw invalid("pre_tokenizer Metaspace with split=true is not supported; SentencePiece BPE needs split=false")
                }
                escapesSpaces = true
                switch step["prepend_scheme"] as? String ?? (step["add_prefix_space"] as? Bool == false ? "never" : "always") {
                case "always": prefix = .metaspaceAlways
                case "first": prefix = .metaspaceFirst
                case "never": prefix = .never
                case let other: throw invalid("pre_tokenizer Metaspace prepend_scheme '\(other)' is not one of always, first, never")
                }
            case "Split" where escapesSpaces && string(step["pattern"]) == " ":
                // Gemma: splits at spaces the normalizer has already replaced by ▁, a no-op.
                continue
            default:
                throw invalid("pre_tokenizer step \(type) is not supported with byte_fallback (supported: none, or Metaspace with split=false)")
            }
        }
        guard escapesSpaces else {
            throw invalid("byte_fallback tokenizer does not write spaces as ▁ (no Replace(\" \", \"▁\") normalizer or Metaspace pre-tokenizer)")
        }
        var strips = false
        for step in steps(root["decoder"], "decoders") {
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Replace" where string(step["pattern"]) == "\u{2581}" && step["content"] as? String == " ",
                 "ByteFallback", "Fuse":
                continue
            case "Strip" where step["content"] as? String == " " && step["start"] as? Int == 1 && step["stop"] as? Int ?? 0 == 0:
                strips = true
            case "Metaspace":
                strips = step["prepend_scheme"] as? String ?? "always" != "never" && step["add_prefix_space"] as? Bool != false
            default:
                throw invalid("decoder step \(type) is not supported with byte_fallback (supported: Replace(\"▁\", \" \"), ByteFallback, Fuse, Strip(\" \", 1, 0), Metaspace)")
            }
        }
        return SentencePieceOptions(spacePrefix: prefix, stripsLeadingSpace: strips)
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
