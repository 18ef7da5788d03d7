/// Errors from reading or rendering a Jinja template.
public enum JinjaError: Error, Equatable, CustomStringConvertible {
    /// The template text is not valid Jinja (with the line it is on).
    case syntax(String, line: Int)
    /// The template called `raise_exception(message)`: the model's own refusal of the input.
    case raised(String)
    /// An operation on values of the wrong type, or an undefined value used as a defined one.
    case type(String)
    /// A filter, test, function or method the engine does not have.
    case unknown(String)
    /// Malformed JSON given to the engine.
    case json(String)

    public var description: String {
        switch self {
        case .syntax(let detail, let line): return "template syntax error on line \(line): \(detail)"
        case .raised(let message): return message
        case .type(let detail): return detail
        case .unknown(let detail): return detail
        case .json(let detail): return "invalid JSON: \(detail)"
        }
    }
}
