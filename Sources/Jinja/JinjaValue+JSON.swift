// JSON in and out of template values. Reading keeps the key order of objects, and writing is
// Python's `json.dumps(value, ensure_ascii=False, indent=…)`, which is what transformers' `tojson`
// filter calls: tool schemas and tool-call arguments reach the rendered text in that form.

extension JinjaValue {
    /// Parses JSON text, keeping object keys in the order they are written.
    public static func parseJSON(_ text: String) throws(JinjaError) -> JinjaValue {
        var reader = JSONReader(Array(text.utf8))
        let value = try reader.value()
        reader.skipWhitespace()
        guard reader.position == reader.bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    /// `json.dumps(self, ensure_ascii=False, indent=indent, sort_keys=sortKeys)`.
    public func json(indent: Int? = nil, sortKeys: Bool = false, separators: (item: String, key: String)? = nil) throws(JinjaError) -> String {
        var out = ""
        let separators = separators ?? (indent == nil ? ", " : ",", ": ")
        try writeJSON(into: &out, indent: indent, depth: 0, sortKeys: sortKeys, separators: separators)
        return out
    }

    private func writeJSON(into out: inout String, indent: Int?, depth: Int, sortKeys: Bool,
                           separators: (item: String, key: String)) throws(JinjaError) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out += "\n" + String(repeating: " ", count: indent * level)
        }
        let itemSeparator = separators.item
        switch self {
        case .none: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
            if value.isNaN { out += "NaN" } else if value.isInfinite { out += value < 0 ? "-Infinity" : "Infinity" } else { out += Self.pythonFloat(value) }
        case .string(let value): Self.writeJSONString(value, into: &out)
        case .array(let values):
            if values.isEmpty { out += "[]"; return }
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += itemSeparator }
                newline(depth + 1)
                try value.writeJSON(into: &out, indent: indent, depth: depth + 1, sortKeys: sortKeys, separators: separators)
            }
            newline(depth)
            out += "]"
        case .object(let object):
            if object.keys.isEmpty { out += "{}"; return }
            out += "{"
            for (index, key) in (sortKeys ? object.keys.sorted() : object.keys).enumerated() {
                if index > 0 { out += itemSeparator }
                newline(depth + 1)
                Self.writeJSONString(key, into: &out)
                out += separators.key
                try (object[key] ?? .none).writeJSON(into: &out, indent: indent, depth: depth + 1, sortKeys: sortKeys, separators: separators)
            }
            newline(depth)
            out += "}"
        case .undefined(let name):
            throw JinjaError.type("'\(name)' is undefined and cannot be written as JSON")
        case .namespace, .callable:
            throw JinjaError.type("a \(typeName) cannot be written as JSON")
        }
    }

    /// Appends `value` as a JSON string literal: quotes, backslashes and control characters
    /// escaped as Python's `json.dumps` escapes them, everything else as UTF-8.
    public static func writeJSONString(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// A strict JSON reader over UTF-8 bytes that keeps object key order.
private struct JSONReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ detail: String) -> JinjaError { .json("\(detail) at byte \(position)") }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    mutating func value() throws(JinjaError) -> JinjaValue {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of JSON") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .none
        default: return try number()
        }
    }

    mutating func literal(_ word: String) throws(JinjaError) {
        let expected = Array(word.utf8)
        guard position + expected.count <= bytes.count, Array(bytes[position..<position + expected.count]) == expected else {
            throw error("invalid JSON literal")
        }
        position += expected.count
    }

    mutating func object() throws(JinjaError) -> JinjaValue {
        position += 1
        var object = JinjaObject()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            object[key] = try value()
            skipWhitespace()
            guard position < bytes.count else { throw error("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(object) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array() throws(JinjaError) -> JinjaValue {
        position += 1
        var values: [JinjaValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(values) }
        while true {
            values.append(try value())
            skipWhitespace()
            guard position < bytes.count else { throw error("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(values) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func string() throws(JinjaError) -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") {
                flushRaw()
                return String(scalars)
            }
            guard byte == UInt8(ascii: "\\") else { raw.append(byte); continue }
            flushRaw()
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                   bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                    position += 2
                    let low = try hex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escape))
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(JinjaError) -> UInt32 {
        guard position + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw error("invalid \\u escape")
        }
        position += 4
        return code
    }

    mutating func number() throws(JinjaError) -> JinjaValue {
        let start = position
        var isFloat = false
        while position < bytes.count {
            let byte = bytes[position]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                isFloat = true
                position += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if !isFloat, let value = Int(text) { return .int(value) }
        guard !text.isEmpty, let value = Double(text) else { throw error("invalid JSON value") }
        return .double(value)
    }
}
