/// Everything needed to build a BPE tokenizer, as plain values: byte-level BPE (GPT-2 family) or,
/// when `sentencePiece` is set, SentencePiece-style BPE with byte fallback (Llama 2, Mistral).
///
/// A GGUF loader fills it from `tokenizer.ggml.*` metadata; `fromTokenizerJSON(data:)` fills it
/// from a Hugging Face `tokenizer.json`. Nothing here is validated until `BPETokenizer.init`.
public struct TokenizerDefinition: Sendable, Equatable {
    /// GGUF token types (`tokenizer.ggml.token_type`).
    public enum TokenType {
        public static let normal = 1
        public static let unknown = 2
        public static let control = 3
        public static let userDefined = 4
        public static let unused = 5
        public static let byte = 6
    }

    /// Token strings indexed by id: in the GPT-2 byte-to-unicode alphabet (`Ġ` for a space) for
    /// byte-level BPE; SentencePiece pieces (`▁` for a space, `<0x0A>` for a byte) otherwise.
    public var tokens: [String]
    /// Merge rules in rank order, each `"left right"`. A SentencePiece definition may leave it
    /// empty and give `scores` instead.
    public var merges: [String]
    /// SentencePiece piece scores (`tokenizer.ggml.scores`), one per token: with no `merges`, two
    /// adjacent pieces merge when their concatenation is a normal piece, highest score first (ties:
    /// leftmost), as SentencePiece and llama.cpp do. Unused by byte-level BPE.
    public var scores: [Float]?
    /// SentencePiece-style BPE settings; nil for byte-level BPE. A SentencePiece tokenizer has no
    /// pre-tokenizer (`preTokenizer` is ignored): each stretch of text between special tokens is
    /// one word, with spaces written `▁`; characters missing from the vocabulary fall back to
    /// `<0xNN>` byte pieces.
    public var sentencePiece: SentencePieceOptions?
    /// One GGUF token type per token (see `TokenType`); `nil` treats every token as normal.
    public var tokenTypes: [Int]?
    /// How text is cut into words before BPE.
    public var preTokenizer: PreTokenizer
    /// Beginning-of-sequence token id (`tokenizer.ggml.bos_token_id`).
    public var bosTokenID: Int?
    /// End-of-sequence token id (`tokenizer.ggml.eos_token_id`).
    public var eosTokenID: Int?
    /// Padding token id (`tokenizer.ggml.padding_token_id`).
    public var padTokenID: Int?
    /// The token for bytes the vocabulary cannot spell; without one such bytes are dropped, as
    /// Hugging Face tokenizers do.
    public var unknownTokenID: Int?
    /// Whether callers should put `bosTokenID` in front of an encoded sequence.
    public var addBOS: Bool
    /// The Jinja chat template shipped with the model, if any.
    public var chatTemplate: String?
    /// Look a whole pre-token up in the vocabulary before merging (Hugging Face `ignore_merges`,
    /// llama.cpp does it for `llama-bpe`).
    public var ignoreMerges: Bool

    /// Creates a definition. `ignoreMerges` defaults to what llama.cpp does for the
    /// pre-tokenizer: on for Llama-3, off otherwise.
    public init(
        tokens: [String],
        merges: [String],
        tokenTypes: [Int]? = nil,
        preTokenizer: PreTokenizer,
        bosTokenID: Int? = nil,
        eosTokenID: Int? = nil,
        padTokenID: Int? = nil,
        unknownTokenID: Int? = nil,
        addBOS: Bool = false,
        chatTemplate: String? = nil,
        ignoreMerges: Bool? = nil,
        scores: [Float]? = nil,
        sentencePiece: SentencePieceOptions? = nil
    ) {
        self.tokens = tokens
        self.merges = merges
        self.scores = scores
        self.sentencePiece = sentencePiece
        self.tokenTypes = tokenTypes
        self.preTokenizer = preTokenizer
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        self.unknownTokenID = unknownTokenID
        self.addBOS = addBOS
        self.chatTemplate = chatTemplate
        self.ignoreMerges = ignoreMerges ?? (preTokenizer == .llama3)
    }
}

/// How a SentencePiece-style tokenizer writes the space in front of text and removes it again.
public struct SentencePieceOptions: Sendable, Equatable {
    /// Where a `▁` is put in front of the text before BPE (SentencePiece's dummy prefix).
    public enum SpacePrefix: String, Sendable, CaseIterable {
        /// In front of every stretch of text between special tokens: the `Prepend("▁")` normalizer
        /// of Llama 2 / Mistral `tokenizer.json` files, and llama.cpp's `add_space_prefix`.
        case always
        /// Metaspace `prepend_scheme: "always"`: in front of every stretch that does not already
        /// start with a space.
        case metaspaceAlways
        /// Metaspace `prepend_scheme: "first"`: only in front of the stretch at the start of the
        /// text, and only when it does not already start with a space.
        case metaspaceFirst
        /// Never (Gemma; `add_space_prefix = false`).
        case never
    }

    /// Where the `▁` prefix goes.
    public var spacePrefix: SpacePrefix
    /// Whether decoding removes one space at the start of the text (the `Strip(" ", 1, 0)`
    /// decoder, or Metaspace's decoder), undoing the prefix.
    public var stripsLeadingSpace: Bool

    public init(spacePrefix: SpacePrefix, stripsLeadingSpace: Bool) {
        self.spacePrefix = spacePrefix
        self.stripsLeadingSpace = stripsLeadingSpace
    }

    /// The Llama 2 / Mistral settings: a prefix on every stretch, stripped when decoding.
    public static let llama = SentencePieceOptions(spacePrefix: .always, stripsLeadingSpace: true)
}
