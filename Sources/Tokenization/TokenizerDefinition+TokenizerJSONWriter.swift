import Foundation
import Jinja

// Writing a definition as a Hugging Face `tokenizer.json` plus `tokenizer_config.json`, in the
// exact forms the `tokenizers` library serializes (key names and nesting checked against
// `Tokenizer.to_str()` of tokenizers 0.23). The output must read back identically through
// `fromTokenizerJSON(data:tokenizerConfig:)` and through Hugging Face `tokenizers`.

extension TokenizerDefinition {
    /// A Hugging Face `tokenizer.json` for this byte-level BPE tokenizer.
    ///
    /// Control tokens become `added_tokens` with `special: true`, user-defined tokens with
    /// `special: false` (the reader maps `special` back onto exactly those two types). Every token
    /// is also in `model.vocab`, as in upstream files. When `addBOS` is set, a
    /// `TemplateProcessing` post-processor puts the BOS token in front of each sequence.
    ///
    /// - Throws: `TokenizationError.invalidTokenizer` when the definition cannot be written
    ///   faithfully (two ids share a token string, a merge is not `"left right"`, a special id is
    ///   outside the vocabulary, the token types do not match the tokens).
    public func tokenizerJSON() throws -> Data {
        try checkWritable()
        var root = JSONWriterObject()
        root.add("version", .string("1.0"))
        root.add("truncation", .null)
        root.add("padding", .null)
        root.add("added_tokens", .array(addedTokenIDs.map { id in
            var entry = addedTokenEntry(id)
            entry.insertFirst("id", .int(id))
            return .object(entry)
        }))
        root.add("normalizer", .null)
        root.add("pre_tokenizer", preTokenizerJSON)
        root.add("post_processor", postProcessorJSON)
        root.add("decoder", byteLevelJSON(addPrefixSpace: true, trimOffsets: true, useRegex: true))
        root.add("model", .object(try modelJSON()))
        return Data(JSONWriterValue.object(root).rendered().utf8)
    }

    /// A Hugging Face `tokenizer_config.json`: special token names, `add_bos_token`, the chat
    /// template verbatim and `added_tokens_decoder`.
    ///
    /// - Parameter modelMaxLength: `model_max_length` (usually `max_position_embeddings`);
    ///   omitted when nil, so transformers uses its "unbounded" default.
    public func tokenizerConfigJSON(modelMaxLength: Int? = nil) throws -> Data {
        try checkWritable()
        var config = JSONWriterObject()
        config.add("add_bos_token", .bool(addBOS))
        config.add("add_eos_token", .bool(false))
        config.add("add_prefix_space", .bool(false))
        var decoder = JSONWriterObject()
        for id in addedTokenIDs { decoder.add(String(id), .object(addedTokenEntry(id))) }
        config.add("added_tokens_decoder", .object(decoder))
        func name(_ id: Int?) -> JSONWriterValue { id.map { .string(tokens[$0]) } ?? .null }
        config.add("bos_token", name(bosTokenID))
        if let chatTemplate { config.add("chat_template", .string(chatTemplate)) }
        config.add("clean_up_tokenization_spaces", .bool(false))
        config.add("eos_token", name(eosTokenID))
        if let modelMaxLength { config.add("model_max_length", .int(modelMaxLength)) }
        config.add("pad_token", name(padTokenID))
        // The generic fast class uses tokenizer.json as written, without class-specific rewrites.
        config.add("tokenizer_class", .string("PreTrainedTokenizerFast"))
        config.add("unk_token", name(unknownTokenID))
        return Data(JSONWriterValue.object(config).rendered().utf8)
    }

    // MARK: Parts

    /// Ids written as `added_tokens`: control and user-defined tokens, in id order.
    private var addedTokenIDs: [Int] {
        guard let tokenTypes else { return [] }
        return tokenTypes.indices.filter { tokenTypes[$0] == TokenType.control || tokenTypes[$0] == TokenType.userDefined }
    }

    /// One added token without its id (the `added_tokens_decoder` form; `added_tokens` adds `id`).
    private func addedTokenEntry(_ id: Int) -> JSONWriterObject {
        var entry = JSONWriterObject()
        entry.add("content", .string(tokens[id]))
        entry.add("single_word", .bool(false))
        entry.add("lstrip", .bool(false))
        entry.add("rstrip", .bool(false))
        entry.add("normalized", .bool(false))
        entry.add("special", .bool(tokenTypes?[id] == TokenType.control))
        return entry
    }

    private func byteLevelJSON(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool) -> JSONWriterValue {
        var step = JSONWriterObject()
        step.add("type", .string("ByteLevel"))
        step.add("add_prefix_space", .bool(addPrefixSpace))
        step.add("trim_offsets", .bool(trimOffsets))
        step.add("use_regex", .bool(useRegex))
        return .object(step)
    }

    /// The upstream pre-tokenizer of each family (SmolLM2, GPT-2, Llama-3 and Qwen2 files).
    private var preTokenizerJSON: JSONWriterValue {
        func sequence(_ steps: [JSONWriterValue]) -> JSONWriterValue {
            var object = JSONWriterObject()
            object.add("type", .string("Sequence"))
            object.add("pretokenizers", .array(steps))
            return .object(object)
        }
        switch preTokenizer {
        case .gpt2:
            return byteLevelJSON(addPrefixSpace: false, trimOffsets: true, useRegex: true)
        case .smollm:
            var digits = JSONWriterObject()
            digits.add("type", .string("Digits"))
            digits.add("individual_digits", .bool(true))
            return sequence([.object(digits), byteLevelJSON(addPrefixSpace: false, trimOffsets: true, useRegex: true)])
        case .llama3, .qwen2, .gpt4o:
            var pattern = JSONWriterObject()
            pattern.add("Regex", .string(Self.splitPattern(for: preTokenizer)))
            var split = JSONWriterObject()
            split.add("type", .string("Split"))
            split.add("pattern", .object(pattern))
            split.add("behavior", .string("Isolated"))
            split.add("invert", .bool(false))
            // The Split step already cut the words; ByteLevel only maps bytes.
            return sequence([.object(split), byteLevelJSON(addPrefixSpace: false, trimOffsets: true, useRegex: false)])
        }
    }

    /// The regex the reader maps onto `family`, so writer and reader cannot drift apart.
    static func splitPattern(for family: PreTokenizer) -> String {
        knownSplitPatterns.first { $0.value == family }?.key ?? ""
    }

    /// ByteLevel offsets handling, plus BOS in front (and between pairs) when `addBOS`.
    private var postProcessorJSON: JSONWriterValue {
        let byteLevel = byteLevelJSON(addPrefixSpace: true, trimOffsets: false, useRegex: true)
        guard addBOS, let bos = bosTokenID else { return byteLevel }
        let name = tokens[bos]
        func piece(_ kind: String, _ id: String, _ typeID: Int) -> JSONWriterValue {
            var inner = JSONWriterObject()
            inner.add("id", .string(id))
            inner.add("type_id", .int(typeID))
            var outer = JSONWriterObject()
            outer.add(kind, .object(inner))
            return .object(outer)
        }
        var special = JSONWriterObject()
        special.add("id", .string(name))
        special.add("ids", .array([.int(bos)]))
        special.add("tokens", .array([.string(name)]))
        var specials = JSONWriterObject()
        specials.add(name, .object(special))
        var template = JSONWriterObject()
        template.add("type", .string("TemplateProcessing"))
        template.add("single", .array([piece("SpecialToken", name, 0), piece("Sequence", "A", 0)]))
        template.add("pair", .array([piece("SpecialToken", name, 0), piece("Sequence", "A", 0),
                                     piece("SpecialToken", name, 1), piece("Sequence", "B", 1)]))
        template.add("special_tokens", .object(specials))
        var sequence = JSONWriterObject()
        sequence.add("type", .string("Sequence"))
        sequence.add("processors", .array([byteLevel, .object(template)]))
        return .object(sequence)
    }

    /// `model`: BPE with the vocabulary in id order and merges as `["left", "right"]` pairs.
    private func modelJSON() throws -> JSONWriterObject {
        var model = JSONWriterObject()
        model.add("type", .string("BPE"))
        model.add("dropout", .null)
        model.add("unk_token", unknownTokenID.map { .string(tokens[$0]) } ?? .null)
        model.add("continuing_subword_prefix", .null)
        model.add("end_of_word_suffix", .null)
        model.add("fuse_unk", .bool(false))
        model.add("byte_fallback", .bool(false))
        model.add("ignore_merges", .bool(ignoreMerges))
        var vocab = JSONWriterObject()
        for (id, token) in tokens.enumerated() { vocab.add(token, .int(id)) }
        model.add("vocab", .object(vocab))
        let pairs: [JSONWriterValue] = try merges.enumerated().map { index, line in
            // Byte-level tokens never contain a raw space, so the first space is the separator.
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains(" ") else {
                throw TokenizationError.invalidTokenizer("merge \(index) '\(line)' is not of the form \"left right\"")
            }
            return .array([.string(String(parts[0])), .string(String(parts[1]))])
        }
        model.add("merges", .array(pairs))
        return model
    }

    /// Refuses what `tokenizer.json` cannot express: its vocabulary is a map from string to id.
    private func checkWritable() throws {
        if sentencePiece != nil {
            throw TokenizationError.invalidTokenizer(
                "writing a SentencePiece (byte_fallback) tokenizer.json is not supported yet; export to GGUF, or copy the model's own tokenizer.json")
        }
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw TokenizationError.invalidTokenizer("\(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        for (field, id) in [("bos", bosTokenID), ("eos", eosTokenID), ("pad", padTokenID), ("unknown", unknownTokenID)] {
            if let id, !tokens.indices.contains(id) {
                throw TokenizationError.invalidTokenizer("\(field) token id \(id) is outside the \(tokens.count) tokens")
            }
        }
        var seen: [String: Int] = [:]
        seen.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            if let first = seen.updateValue(id, forKey: token) {
                throw TokenizationError.invalidTokenizer(
                    "tokens \(first) and \(id) are both '\(token)'; tokenizer.json cannot hold two ids for one string")
            }
        }
    }
}

// MARK: - A minimal ordered JSON emitter

/// A JSON value whose objects keep insertion order, so files read like upstream ones
/// (`JSONSerialization` would sort or shuffle the 49k-entry vocabulary).
private enum JSONWriterValue {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONWriterValue])
    case object(JSONWriterObject)

    /// Pretty-printed text with two-space indentation.
    func rendered() -> String {
        var out = ""
        render(into: &out, indent: 0)
        out += "\n"
        return out
    }

    private func render(into out: inout String, indent: Int) {
        let inner = String(repeating: " ", count: indent + 2)
        let closing = String(repeating: " ", count: indent)
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .string(let value): Self.quote(value, into: &out)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += inner
                item.render(into: &out, indent: indent + 2)
                out += index + 1 < items.count ? ",\n" : "\n"
            }
            out += closing + "]"
        case .object(let object):
            guard !object.entries.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (index, entry) in object.entries.enumerated() {
                out += inner
                Self.quote(entry.key, into: &out)
                out += ": "
                entry.value.render(into: &out, indent: indent + 2)
                out += index + 1 < object.entries.count ? ",\n" : "\n"
            }
            out += closing + "}"
        }
    }

    /// A JSON string literal (the Jinja engine's writer, Python's escapes).
    private static func quote(_ string: String, into out: inout String) {
        JinjaValue.writeJSONString(string, into: &out)
    }
}

/// A JSON object as ordered key/value pairs.
private struct JSONWriterObject {
    fileprivate(set) var entries: [(key: String, value: JSONWriterValue)] = []

    mutating func add(_ key: String, _ value: JSONWriterValue) { entries.append((key, value)) }
    mutating func insertFirst(_ key: String, _ value: JSONWriterValue) { entries.insert((key, value), at: 0) }
}
