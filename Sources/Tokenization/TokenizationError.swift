/// Errors raised while building a tokenizer, encoding, decoding or rendering a chat.
public enum TokenizationError: Error, Equatable, CustomStringConvertible {
    /// The tokenizer definition (vocabulary, merges, special tokens) is unusable.
    case invalidTokenizer(String)
    /// A token id is outside the vocabulary.
    case unknownTokenID(Int, vocabularySize: Int)
    /// The chat template is not one of the supported families.
    case unsupportedChatTemplate(String)
    /// A chat message cannot be rendered (unknown role, empty conversation).
    case invalidConversation(String)

    public var description: String {
        switch self {
        case .invalidTokenizer(let detail): return "invalid tokenizer: \(detail)"
        case .unknownTokenID(let id, let size): return "token id \(id) is outside the vocabulary (size \(size))"
        case .unsupportedChatTemplate(let detail): return "unsupported chat template: \(detail)"
        case .invalidConversation(let detail): return "invalid conversation: \(detail)"
        }
    }
}
