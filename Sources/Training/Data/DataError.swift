/// Errors in training or evaluation data. Each names the file and, for a row, its line number.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// A JSONL line that cannot be used; `line` is 1-based.
    case invalidRow(file: String, line: Int, detail: String)
    /// The file cannot be read.
    case unreadable(file: String, detail: String)
    /// The file holds no usable rows.
    case empty(file: String)

    public var description: String {
        switch self {
        case .invalidRow(let file, let line, let detail): return "\(file):\(line): \(detail)"
        case .unreadable(let file, let detail): return "\(file): \(detail)"
        case .empty(let file): return "\(file): no usable rows (the file is empty or every line is blank)"
        }
    }
}
