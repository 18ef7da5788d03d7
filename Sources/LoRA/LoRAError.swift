/// Errors in LoRA configuration and adapters. Each names the field, tensor or module.
public enum LoRAError: Error, Equatable, CustomStringConvertible {
    /// A configuration field has an invalid value.
    case invalidConfig(String)
    /// An adapter does not fit the model (missing or unexpected tensor, wrong shape).
    case adapterMismatch(String)
    /// An adapter file cannot be read or written.
    case io(String)

    public var description: String {
        switch self {
        case .invalidConfig(let detail): return "invalid LoRA config: \(detail)"
        case .adapterMismatch(let detail): return "adapter does not fit the model: \(detail)"
        case .io(let detail): return detail
        }
    }
}
