/// A BPE tokenizer: byte-level (GPT-2 family: SmolLM, Llama-3, Qwen2...) or SentencePiece-style
/// with byte fallback (Llama 2, Mistral, TinyLlama), as the `TokenizerDefinition` says.
///
/// Text is cut at special tokens. Byte-level: each stretch is cut into words by the
/// `PreTokenizer`, each word's UTF-8 bytes start as single-byte tokens. SentencePiece: each
/// stretch, spaces written `▁` and with the `▁` prefix, is one word whose characters start as
/// their own pieces (or `<0xNN>` byte pieces when the vocabulary lacks them). Symbols are then
/// merged pair by pair, lowest merge rank (highest SentencePiece score) first, leftmost on ties.
/// Built once from a `TokenizerDefinition`; immutable and safe to share across threads.
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
    /// SentencePiece: the piece of each single Unicode scalar (`▁` stands for the space), among
    /// the pieces BPE may produce.
    let scalarIDs: [UInt32: Int32]
    /// True for `<0xNN>` byte pieces, which decoding collects and decodes together: [vocabularySize].
    let isBytePiece: [Bool]

    /// SentencePiece-style settings; nil for byte-level BPE.
    public let sentencePiece: SentencePieceOptions?
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

        let sentencePiece = definition.sentencePiece
        func type(_ id: Int) -> Int {
            if let types = definition.tokenTypes { return types[id] }
            // Without types, a SentencePiece vocabulary still spells bytes as <0xNN>.
            return sentencePiece != nil && Self.byteTokenValue(tokens[id]) != nil
                ? TokenizerDefinition.TokenType.byte : TokenizerDefinition.TokenType.normal
        }

        // Special tokens decode to their own text, and are matched literally before BPE
        // (SentencePiece: the unknown token too, as llama.cpp and Hugging Face do).
        var special: [(String, Int)] = []
        var tokenBytes: [[UInt8]] = []
        var isBytePiece = [Bool](repeating: false, count: tokens.count)
        tokenBytes.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            switch type(id) {
            case TokenizerDefinition.TokenType.control, TokenizerDefinition.TokenType.userDefined:
                special.append((token, id))
                tokenBytes.append(sentencePiece != nil ? Self.spaced(token) : Array(token.utf8))
            case TokenizerDefinition.TokenType.unknown where sentencePiece != nil:
                special.append((token, id))
                tokenBytes.append(Array(token.utf8))
            case TokenizerDefinition.TokenType.byte:
                if let byte = Self.byteTokenValue(token) {
                    tokenBytes.append([byte])
                    isBytePiece[id] = sentencePiece != nil
                } else {
                    tokenBytes.append(ByteLevelAlphabet.bytes(of: token))
                }
            default:
                tokenBytes.append(sentencePiece != nil ? Self.spaced(token) : ByteLevelAlphabet.bytes(of: token))
            }
        }

        let byteTokenIDs: [Int32?]
        var scalarIDs: [UInt32: Int32] = [:]
        if sentencePiece != nil {
            // Byte pieces are <0x00>...<0xFF>; characters are looked up whole.
            byteTokenIDs = (0..<256).map { byte in
                idsByToken[Self.bytePieceName(UInt8(byte))].flatMap { type($0) == TokenizerDefinition.TokenType.byte ? Int32($0) : nil }
            }
            for (id, token) in tokens.enumerated() where Self.isMergeable(type(id)) {
                let scalars = token.unicodeScalars
                if scalars.count == 1, let scalar = scalars.first, scalarIDs[scalar.value] == nil {
                    scalarIDs[scalar.value] = Int32(id)
                }
            }
        } else {
            // Bytes that never occur in the training text (0xF5-0xFF cannot occur in UTF-8) may be
            // missing from the vocabulary.
            byteTokenIDs = ByteLevelAlphabet.scalarForByte.map { scalar in
                idsByToken[String(scalar)].map { Int32($0) }
            }
        }

        self.isControl = (0..<tokens.count).map { id in
            let type = definition.tokenTypes?[id]
            return type == TokenizerDefinition.TokenType.control || type == TokenizerDefinition.TokenType.unknown
        }
        self.tokens = tokens
        self.idsByToken = idsByToken
        self.tokenBytes = tokenBytes
        self.byteTokenIDs = byteTokenIDs
        self.scalarIDs = scalarIDs
        self.isBytePiece = isBytePiece
        self.sentencePiece = sentencePiece
        if sentencePiece != nil && definition.merges.isEmpty {
            guard let scores = definition.scores else {
                throw TokenizationError.invalidTokenizer(
                    "SentencePiece tokenizer has neither merges nor scores; it needs tokenizer.ggml.scores (GGUF) or model.merges (tokenizer.json)")
            }
            self.merges = try Self.scoreMergeTable(tokens, scores, type, idsByToken)
        } else {
            self.merges = try Self.mergeTable(definition.merges, idsByToken)
        }
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

    /// The texts of the control tokens (`<|im_end|>`, `</s>`, `<end_of_turn>`), as rendered chat
    /// text spells them.
    public var specialTokenTexts: [String] {
        tokens.indices.filter { isControl[$0] }.map { String(decoding: tokenBytes[$0], as: UTF8.self) }
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

    /// The SentencePiece merge table: every normal piece, split at each character boundary into
    /// two pieces of the vocabulary, is a merge; its rank orders the pieces by score, highest
    /// first, equal scores sharing a rank (so the leftmost pair wins, as in SentencePiece).
    private static func scoreMergeTable(
        _ tokens: [String], _ scores: [Float], _ type: (Int) -> Int, _ ids: [String: Int]
    ) throws -> [UInt64: UInt64] {
        guard scores.count == tokens.count else {
            throw TokenizationError.invalidTokenizer(
                "\(scores.count) scores for \(tokens.count) tokens; tokenizer.ggml.scores must have one entry per token")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw TokenizationError.invalidTokenizer("score of token \(bad) ('\(tokens[bad])') is \(scores[bad]); scores must be finite")
        }
        let distinct = Array(Set(scores)).sorted(by: >)
        let rankOfScore = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt64($0)) })
        var table: [UInt64: UInt64] = [:]
        for (id, token) in tokens.enumerated() where type(id) == TokenizerDefinition.TokenType.normal {
            let rank = rankOfScore[scores[id]]!
            var split = token.unicodeScalars.startIndex
            token.unicodeScalars.formIndex(after: &split)
            while split < token.unicodeScalars.endIndex {
                let left = String(token.unicodeScalars[..<split]), right = String(token.unicodeScalars[split...])
                if let leftID = ids[left], let rightID = ids[right], isMergeable(type(leftID)), isMergeable(type(rightID)) {
                    table[pairKey(Int32(leftID), Int32(rightID))] = rank << 32 | UInt64(UInt32(id))
                }
                token.unicodeScalars.formIndex(after: &split)
            }
        }
        return table
    }

    /// SentencePiece pieces that take part in BPE: normal, user-defined and unused ones (not
    /// control, unknown or byte pieces).
    private static func isMergeable(_ type: Int) -> Bool {
        type == TokenizerDefinition.TokenType.normal || type == TokenizerDefinition.TokenType.userDefined
            || type == TokenizerDefinition.TokenType.unused
    }

    /// A SentencePiece piece's text with `▁` read as a space, as UTF-8.
    private static func spaced(_ piece: String) -> [UInt8] {
        var text = String.UnicodeScalarView()
        for scalar in piece.unicodeScalars { text.append(scalar == "\u{2581}" ? " " : scalar) }
        return Array(String(text).utf8)
    }

    /// `<0x0A>`: the name of a byte piece, as SentencePiece and Hugging Face spell it.
    static func bytePieceName(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The byte of a SentencePiece byte piece `<0xAB>`, or nil for any other token.
    public static func byteValue(ofPiece token: String) -> UInt8? { byteTokenValue(token) }

    /// The byte of a SentencePiece-style byte token `<0xAB>`.
    private static func byteTokenValue(_ token: String) -> UInt8? {
        guard token.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(token.dropFirst(3).dropLast(), radix: 16)
    }
}
