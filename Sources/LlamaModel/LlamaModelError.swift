/// Errors raised while building, loading or running a Llama-family model.
public enum LlamaModelError: Error, Equatable, CustomStringConvertible {
    /// The configuration is invalid or inconsistent (names the field and value).
    case invalidConfig(String)
    /// A weight is missing or has the wrong shape or type.
    case invalidWeights(String)
    /// Input that cannot be run (token ids outside the vocabulary, sequence too long).
    case invalidInput(String)
    /// A model name that is neither a file, a directory nor a preset (the message lists the presets).
    case unknownModel(String)

    public var description: String {
        switch self {
        case .invalidConfig(let detail): return "invalid model config: \(detail)"
        case .invalidWeights(let detail): return "invalid model weights: \(detail)"
        case .invalidInput(let detail): return "invalid input: \(detail)"
        case .unknownModel(let detail): return "unknown model: \(detail)"
        }
    }
}
