/// Errors in optimizer settings and state. Each names the value or tensor at fault.
public enum OptimizerError: Error, Equatable, CustomStringConvertible {
    /// A hyper-parameter or schedule setting is out of range.
    case invalidSetting(String)
    /// A parameter list or a restored state does not fit the optimizer.
    case stateMismatch(String)

    public var description: String {
        switch self {
        case .invalidSetting(let detail): return "invalid optimizer setting: \(detail)"
        case .stateMismatch(let detail): return "optimizer state does not fit: \(detail)"
        }
    }
}
