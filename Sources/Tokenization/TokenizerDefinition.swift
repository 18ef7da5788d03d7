/// Everything needed to build a byte-level BPE tokenizer, as plain values.
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

    /// Token strings indexed by id, in the GPT-2 byte-to-unicode alphabet (`Ġ` for a space).
    public var tokens: [String]
    /// Merge rules in rank order, each `"left right"`.
    public var merges: [String]
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
        ignoreMerges: Bool? = nil
    ) {
        self.tokens = tokens
        self.merges = merges
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
