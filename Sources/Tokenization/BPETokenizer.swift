/// A byte-level BPE tokenizer (GPT-2 family: SmolLM, Llama-3, Qwen2...).
///
/// Text is cut at special tokens, each stretch is cut into words by the `PreTokenizer`, each
/// word's UTF-8 bytes start as single-byte tokens and are merged pair by pair, lowest merge rank
/// first. Built once from a `TokenizerDefinition`; immutable and safe to share across threads.
public struct BPETokenizer: Sendable {
    /// Token strings by id: [vocabularySize].
    let tokens: [String]
    /// Ids by token string.
    let idsByToken: [String: Int]
    /// The raw bytes each token decodes to: [vocabularySize].
    let tokenBytes: [[UInt8]]
    /// True for control and unknown tokens, which `decode(_:skipSpecialTokens:)` can leave out: [vocabularySize].
    let isControl: [Bool]
    /// The token of each single byte, nil where the vocabulary cannot spell it: [256].
    let byteTokenIDs: [Int32?]
    /// Merge rules: key `left << 32 | right`, value `rank << 32 | merged` so that comparing
    /// values compares ranks.
    let merges: [UInt64: UInt64]
    /// Special and user-defined tokens written literally in text.
    let specialTokens: SpecialTokenMatcher
    /// Non-special token ids by their raw bytes, when `ignoreMerges` asks for whole-word lookups.
    let idsByBytes: [[UInt8]: Int32]

    /// How text is cut into words.
    public let preTokenizer: PreTokenizer
    /// Beginning-of-sequence token (`<|im_start|>` for SmolLM2, `<|begin_of_text|>` for Llama 3).
    public let bosTokenID: Int?
    /// End-of-sequence token; generation stops on it.
    public let eosTokenID: Int?
    /// Token used to pad batches.
    public let padTokenID: Int?
    /// Stands for bytes the vocabulary cannot spell (SmolLM2 has no token for 0x04, for instance).
    public let unknownTokenID: Int?
    /// Whether callers should put `bosTokenID` in front of an encoded sequence (`encode` never does).
    public let addBOS: Bool
    /// The model's Jinja chat template, if it ships one (see `ChatTemplate`).
    public let chatTemplate: String?
    let ignoreMerges: Bool

    /// Number of token ids.
    public var vocabularySize: Int { tokens.count }

    /// Builds the tokenizer, checking the vocabulary, token types, merges and special ids.
    public init(_ definition: TokenizerDefinition) throws {
        let tokens = definition.tokens
        guard !tokens.isEmpty else { throw TokenizationError.invalidTokenizer("the vocabulary is empty") }
        if let types = definition.tokenTypes, types.count != tokens.count {
            throw TokenizationError.invalidTokenizer(
                "\(types.count) token types for \(tokens.count) tokens; tokenizer.ggml.token_type must have one entry per token")
        }
        for (name, id) in [("bos", definition.bosTokenID), ("eos", definition.eosTokenID), ("padding", definition.padTokenID),
                              ("unknown", definition.unknownTokenID)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw TokenizationError.invalidTokenizer("\(name) token id \(id) is outside the vocabulary (size \(tokens.count))")
            }
        }

        var idsByToken: [String: Int] = [:]
        idsByToken.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where idsByToken[token] == nil { idsByToken[token] = id }

        // Special tokens decode to their own text, and are matched literally before BPE.
        var special: [(String, Int)] = []
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            let type = definition.tokenTypes?[id] ?? TokenizerDefinition.TokenType.normal
            switch type {
            case TokenizerDefinition.TokenType.control, TokenizerDefinition.TokenType.userDefined:
                special.append((token, id))
                tokenBytes.append(Array(token.utf8))
            case TokenizerDefinition.TokenType.byte:
                tokenBytes.append(Self.byteTokenValue(token).map { [$0] } ?? ByteLevelAlphabet.bytes(of: token))
            default:
                tokenBytes.append(ByteLevelAlphabet.bytes(of: token))
            }
        }

        // Bytes that never occur in the training text (0xF5-0xFF cannot occur in UTF-8) may be
        // missing from the vocabulary.
        let byteTokenIDs: [Int32?] = ByteLevelAlphabet.scalarForByte.map { scalar in
            idsByToken[String(scalar)].map { Int32($0) }
        }

        self.isControl = (0..<tokens.count).map { id in
            let type = definition.tokenTypes?[id]
            return type == TokenizerDefinition.TokenType.control || type == TokenizerDefinition.TokenType.unknown
        }
        self.tokens = tokens
        self.idsByToken = idsByToken
        self.tokenBytes = tokenBytes
        self.byteTokenIDs = byteTokenIDs
        self.merges = try Self.mergeTable(definition.merges, idsByToken)
        self.specialTokens = SpecialTokenMatcher(special)
        self.ignoreMerges = definition.ignoreMerges
        var idsByBytes: [[UInt8]: Int32] = [:]
        if definition.ignoreMerges {
            let specialIDs = Set(special.map(\.1))
            for (id, bytes) in tokenBytes.enumerated() where !specialIDs.contains(id) && idsByBytes[bytes] == nil {
                idsByBytes[bytes] = Int32(id)
            }
        }
        self.idsByBytes = idsByBytes
        self.preTokenizer = definition.preTokenizer
        self.bosTokenID = definition.bosTokenID
        self.eosTokenID = definition.eosTokenID
        self.padTokenID = definition.padTokenID
        self.unknownTokenID = definition.unknownTokenID
        self.addBOS = definition.addBOS
        self.chatTemplate = definition.chatTemplate
    }

    /// The token string of `id`, or nil outside the vocabulary.
    public func token(for id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    /// The id of a token string (in the vocabulary's byte-level spelling), if present.
    public func id(for token: String) -> Int? {
        idsByToken[token]
    }

    /// Parses "left right" merge lines into the rank table; line numbers in errors are 1-based.
    private static func mergeTable(_ lines: [String], _ ids: [String: Int]) throws -> [UInt64: UInt64] {
        guard !lines.isEmpty else {
            throw TokenizationError.invalidTokenizer(
                "tokenizer has no merges; a byte-level BPE tokenizer needs tokenizer.ggml.merges (GGUF) or model.merges (tokenizer.json)")
        }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(lines.count)
        for (rank, line) in lines.enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizationError.invalidTokenizer("merge line \(rank + 1) ('\(line)') is not of the form 'left right'")
            }
            let left = String(parts[0]), right = String(parts[1])
            guard let leftID = ids[left], let rightID = ids[right], let mergedID = ids[left + right] else {
                let missing = [left, right, left + right].first { ids[$0] == nil } ?? line
                throw TokenizationError.invalidTokenizer(
                    "merge line \(rank + 1) ('\(line)') names '\(missing)', which is not in the vocabulary")
            }
            let key = pairKey(Int32(leftID), Int32(rightID))
            // The first (lowest-rank) rule for a pair wins, as in Hugging Face tokenizers.
            if table[key] == nil {
                table[key] = UInt64(rank) << 32 | UInt64(UInt32(mergedID))
            }
        }
        return table
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The byte of a SentencePiece-style byte token `<0xAB>`.
    private static func byteTokenValue(_ token: String) -> UInt8? {
        guard token.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(token.dropFirst(3).dropLast(), radix: 16)
    }
}
