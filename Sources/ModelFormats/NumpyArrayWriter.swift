// Streams a 2-D float32 array to a NumPy `.npy` file (format version 1.0), row block by row
// block, so that large outputs such as [tokens, vocab] logits never exist in memory at once.
// `numpy.load` reads the result; the file appears only when every row has been written.

/// A `.npy` file of `rows × columns` little-endian float32 values in C order.
///
/// ```swift
/// let writer = try NumpyArrayWriter(path: "logits.npy", rows: 91, columns: 49152)
/// try writer.append(rowsOf: pointer, count: 91)
/// try writer.finish()
/// ```
public final class NumpyArrayWriter {
    public let path: String
    public let rows: Int
    public let columns: Int
    public private(set) var rowsWritten = 0
    private let file: AtomicFileWriter

    public init(path: String, rows: Int, columns: Int) throws {
        guard rows >= 0, columns > 0 else {
            throw ModelFormatsError.invalidInput(context: path, detail: "a .npy array needs rows ≥ 0 and columns > 0, got [\(rows), \(columns)]")
        }
        self.path = path
        self.rows = rows
        self.columns = columns
        file = try AtomicFileWriter(path: path)
        try file.append(Self.header(rows: rows, columns: columns))
    }

    /// The magic, version 1.0, and the header dictionary as `numpy.save` writes it: room for
    /// the first axis to grow to 21 digits, then spaces up to a multiple of 64 bytes and `\n`.
    static func header(rows: Int, columns: Int) -> [UInt8] {
        var dictionary = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }".utf8)
        dictionary += [UInt8](repeating: UInt8(ascii: " "), count: max(0, 21 - String(rows).count))
        let fixed = 10  // magic (6) + version (2) + header length (2)
        let padding = 64 - (fixed + dictionary.count + 1) % 64
        dictionary += [UInt8](repeating: UInt8(ascii: " "), count: padding)
        dictionary.append(UInt8(ascii: "\n"))
        let length = UInt16(dictionary.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + dictionary
    }

    /// Appends `count` rows of `columns` values each.
    public func append(rowsOf values: UnsafePointer<Float>, count: Int) throws {
        guard count >= 0, rowsWritten + count <= rows else {
            throw ModelFormatsError.invalidInput(context: path, detail: "\(rowsWritten + count) rows written to an array of \(rows)")
        }
        // The platforms Tessera builds for are little-endian, so the floats are written as they are.
        try file.append(UnsafeRawBufferPointer(start: values, count: count * columns * MemoryLayout<Float>.size))
        rowsWritten += count
    }

    /// Publishes the file; every row must have been written.
    public func finish() throws {
        guard rowsWritten == rows else {
            throw ModelFormatsError.invalidInput(context: path, detail: "only \(rowsWritten) of \(rows) rows were written")
        }
        try file.commit()
    }
}
