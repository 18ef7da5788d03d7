/// One stretch of UTF-8 text decoded into Unicode scalars, each with the character classes the
/// pre-tokenizer patterns ask about and its byte offset, so that words come out as byte ranges.
///
/// It is scratch storage: `load` refills it and keeps its capacity between calls.
struct ScalarText {
    static let letter: UInt8 = 1        // \p{L}
    static let number: UInt8 = 2        // \p{N}
    static let whitespace: UInt8 = 4    // \s (Unicode White_Space)
    static let newline: UInt8 = 8       // \r or \n
    static let casedUpper: UInt8 = 16   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (GPT-4o's first word class)
    static let casedLower: UInt8 = 32   // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (its second)

    /// Unicode scalar values.
    var scalars: [UInt32] = []
    /// Class bits per scalar.
    var flags: [UInt8] = []
    /// Byte offset of each scalar in the source buffer, plus one entry for the end: [scalars + 1].
    var offsets: [Int] = []

    /// Class bits of the ASCII range, computed once: most text is ASCII, and
    /// `Unicode.Scalar.Properties` lookups cost far more than a table read.
    private static let asciiFlags: [UInt8] = (0..<128).map { value in
        classify(Unicode.Scalar(UInt8(value)))
    }

    private static func classify(_ scalar: Unicode.Scalar) -> UInt8 {
        let properties = scalar.properties
        var bits: UInt8 = 0
        switch properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter:
            bits |= letter | casedUpper
        case .lowercaseLetter:
            bits |= letter | casedLower
        case .modifierLetter, .otherLetter:
            bits |= letter | casedUpper | casedLower
        case .nonspacingMark, .spacingMark, .enclosingMark:
            bits |= casedUpper | casedLower
        case .decimalNumber, .letterNumber, .otherNumber:
            bits |= number
        default:
            break
        }
        if properties.isWhitespace { bits |= whitespace }
        if scalar == "\r" || scalar == "\n" { bits |= newline }
        return bits
    }

    /// Decodes `bytes[start..<end]`, which must be valid UTF-8 cut at scalar boundaries (it comes
    /// from a `String`, split only at special tokens, which are themselves whole strings).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        scalars.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        var index = start
        while index < end {
            let lead = bytes[index]
            offsets.append(index)
            if lead < 0x80 {
                scalars.append(UInt32(lead))
                flags.append(Self.asciiFlags[Int(lead)])
                index += 1
                continue
            }
            let (value, length) = utf8Scalar(bytes, at: index, end: end)
            scalars.append(value)
            flags.append(Unicode.Scalar(value).map(Self.classify) ?? 0)
            index += length
        }
        offsets.append(end)
    }

    /// Class bits at `index`, or 0 past `end` (the edge of the current piece behaves like "no scalar").
    @inline(__always)
    func flag(_ index: Int, _ end: Int) -> UInt8 {
        index < end ? flags[index] : 0
    }
}

/// The scalar whose UTF-8 encoding starts at `bytes[index]` (a lead byte of 0x80 or more; the
/// text is valid UTF-8 from a `String`) and its length in bytes, never past `end`, at least 1.
@inline(__always)
func utf8Scalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> (value: UInt32, length: Int) {
    let lead = bytes[index]
    var value: UInt32
    var length: Int
    if lead >= 0xF0 {
        value = UInt32(lead & 0x07); length = 4
    } else if lead >= 0xE0 {
        value = UInt32(lead & 0x0F); length = 3
    } else {
        value = UInt32(lead & 0x1F); length = 2
    }
    length = min(length, end - index)
    for next in 1..<max(length, 1) {
        value = (value << 6) | UInt32(bytes[index + next] & 0x3F)
    }
    return (value, max(length, 1))
}
