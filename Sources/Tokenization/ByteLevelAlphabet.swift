/// GPT-2's reversible map between bytes and printable Unicode scalars.
///
/// Byte-level BPE vocabularies spell every byte as a visible character so that merges can be
/// written as text: printable Latin-1 bytes stand for themselves, the other 68 bytes (controls,
/// space, 0x7F–0xA0, 0xAD) move to U+0100 onwards in byte order (space → `Ġ` U+0120, `\n` → `Ċ`).
enum ByteLevelAlphabet {
    /// The scalar that spells each byte: [256].
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            let value = printable ? UInt32(byte) : next
            if !printable { next += 1 }
            // Every value here is below 0x200, so it is always a valid scalar.
            table[byte] = Unicode.Scalar(value) ?? " "
        }
        return table
    }()

    /// The byte each alphabet scalar stands for.
    static let byteForScalar: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        for (byte, scalar) in scalarForByte.enumerated() { table[scalar.value] = UInt8(byte) }
        return table
    }()

    /// The vocabulary spelling of raw bytes.
    static func spell<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalarForByte[Int(byte)]) }
        return String(text)
    }

    /// The raw bytes a vocabulary token stands for; scalars outside the alphabet keep their UTF-8.
    static func bytes(of token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            if let byte = byteForScalar[scalar.value] {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }
}
