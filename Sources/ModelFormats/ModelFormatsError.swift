/// Errors raised while reading or writing model files. Each names the file and what is wrong.
public enum ModelFormatsError: Error, Equatable, CustomStringConvertible {
    /// The file is malformed: `detail` says what and where (byte offset, field, tensor).
    case malformed(file: String, detail: String)
    /// The file could not be opened, mapped or written.
    case io(file: String, detail: String)
    /// The file uses a feature Tessera does not support.
    case unsupported(file: String, detail: String)
    /// The file has no tensor with this name.
    case missingTensor(file: String, name: String)
    /// A writer was given inconsistent input (shape and byte count disagree, duplicate name, ...).
    case invalidInput(context: String, detail: String)

    public var description: String {
        switch self {
        case .malformed(let file, let detail): return "\(file): malformed: \(detail)"
        case .io(let file, let detail): return "\(file): \(detail)"
        case .unsupported(let file, let detail): return "\(file): unsupported: \(detail)"
        case .missingTensor(let file, let name): return "\(file): no tensor named '\(name)'"
        case .invalidInput(let context, let detail): return "\(context): \(detail)"
        }
    }
}
