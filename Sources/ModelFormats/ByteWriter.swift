// Little-endian encoding into a growing byte array, the writer-side twin of ByteReader.

/// Appends little-endian values to `bytes`. Internal to ModelFormats.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Float) { append(value.bitPattern) }

    mutating func append(_ value: Double) { append(value.bitPattern) }

    /// A GGUF string: UInt64 byte length, then the UTF-8 bytes.
    mutating func appendGGUFString(_ value: String) {
        let utf8 = value.utf8
        append(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func append(contentsOf raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Pads with zeros until the length is a multiple of the power of two `alignment`.
    mutating func pad(to alignment: Int) {
        let padding = (alignment - bytes.count % alignment) % alignment
        bytes.append(contentsOf: repeatElement(0, count: padding))
    }
}
