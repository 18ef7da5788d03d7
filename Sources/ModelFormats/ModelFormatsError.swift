/// Errors raised while reading or writing model files. Each names the file and what is wrong.
public enum ModelFormatsError: Error, Equatable, CustomStringConvertible {
    /// The file is malformed: `detail` says what and where (byte offset, field, tensor).
    case malformed(file: String, detail: String)
    /// The file could not be opened, mapped or written.
    case io(file: String, detail: String)
    /// The file uses a feature Tessera does not support.
    case unsupported(file: String, detail: String)

    public var description: String {
        switch self {
        case .malformed(let file, let detail): return "\(file): malformed: \(detail)"
        case .io(let file, let detail): return "\(file): \(detail)"
        case .unsupported(let file, let detail): return "\(file): unsupported: \(detail)"
        }
    }
}
