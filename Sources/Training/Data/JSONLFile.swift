// Reading a JSONL data file into rows, each remembered with its line number.
import Foundation

/// The rows of a JSONL file.
public struct JSONLFile: Sendable {
    /// Parsed rows with their 1-based line numbers.
    public let rows: [(line: Int, row: DataRow)]
    /// Lines skipped as invalid (only when reading with `skipInvalid`), with the reason.
    public let skipped: [(line: Int, reason: String)]
    public let path: String

    /// Reads `path`. Blank lines are ignored. An invalid line is an error naming file:line,
    /// unless `skipInvalid` is set, which counts it in `skipped` instead.
    public init(path: String, skipInvalid: Bool = false) throws(DataError) {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError.unreadable(file: path, detail: "cannot read the file (\(error.localizedDescription))")
        }
        var rows: [(line: Int, row: DataRow)] = []
        var skipped: [(line: Int, reason: String)] = []
        let bytes = [UInt8](data)
        var lineNumber = 0
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            var slice = bytes[start..<end]
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            let blank = slice.allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if !blank {
                do {
                    rows.append((lineNumber, try DataRow.parse(slice)))
                } catch {
                    if !skipInvalid { throw DataError.invalidRow(file: path, line: lineNumber, detail: error.description) }
                    skipped.append((lineNumber, error.description))
                }
            }
            if end == bytes.count { break }
            start = end + 1
        }
        guard !rows.isEmpty else { throw DataError.empty(file: path) }
        self.rows = rows
        self.skipped = skipped
    }
}
