// A bounds-checked little-endian cursor over untrusted bytes. Every read checks the remaining
// length first, so a truncated or hostile file produces an error naming the byte offset instead
// of a crash.

/// Reads little-endian values from a byte buffer, advancing an offset. Internal to ModelFormats.
struct ByteReader {
    /// The whole buffer being read; offsets in errors are relative to its start.
    let bytes: UnsafeRawBufferPointer
    /// The file name used in error messages.
    let file: String
    /// The next byte to read.
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    /// Bytes left after the cursor.
    var remaining: Int { bytes.count - offset }

    /// Reads a fixed-width little-endian integer; `what` names the field for the error message.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw truncated(need: size, what()) }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads an IEEE 754 binary32 value.
    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    /// Reads an IEEE 754 binary64 value.
    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// Reads a `UInt64` that must fit in `Int` (counts, sizes, offsets).
    mutating func readCount(_ what: @autoclosure () -> String) throws -> Int {
        let start = offset
        let value = try read(UInt64.self, what())
        guard value <= UInt64(Int.max) else {
            throw malformed("\(what()) \(value) at byte offset \(start) is too large")
        }
        return Int(value)
    }

    /// Reads a GGUF string: a UInt64 byte length, then that many UTF-8 bytes. Invalid UTF-8
    /// is decoded with replacement characters rather than rejected.
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let start = offset
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw malformed("\(what()): string length \(length) at byte offset \(start) exceeds the \(remaining) bytes left in the file")
        }
        let count = Int(length)
        guard count > 0, let base = bytes.baseAddress else { return "" }
        let typed = UnsafeBufferPointer(
            start: (base + offset).assumingMemoryBound(to: UInt8.self), count: count)
        offset += count
        return String(decoding: typed, as: UTF8.self)
    }

    /// Skips `count` bytes.
    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else { throw truncated(need: count, what()) }
        offset += count
    }

    /// A `.malformed` error for this reader's file.
    func malformed(_ detail: String) -> ModelFormatsError {
        .malformed(file: file, detail: detail)
    }

    private func truncated(need: Int, _ what: String) -> ModelFormatsError {
        malformed("unexpected end of file at byte offset \(offset): \(what) needs \(need) bytes, \(remaining) remain")
    }
}
