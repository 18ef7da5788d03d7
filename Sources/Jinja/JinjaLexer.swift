// Splits a template into text, `{{ … }}` outputs and `{% … %}` statements, applying Jinja2's
// whitespace control as transformers configures it for chat templates: `trim_blocks` (the first
// newline after a block tag is dropped), `lstrip_blocks` (spaces and tabs before a block tag on its
// own line are dropped), `-` on either side of a tag (all whitespace on that side is dropped), `+`
// to turn `lstrip_blocks` off for one tag, and one trailing newline of the template removed.

/// A token inside a tag.
enum JinjaToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case symbol(String)
}

/// One piece of a template, in source order.
enum TemplatePiece {
    case text(String)
    case output([JinjaToken], line: Int)
    case statement([JinjaToken], line: Int)
}

struct JinjaLexer {
    private let source: [Unicode.Scalar]
    private var position = 0
    private var line = 1

    init(_ template: String) {
        var text = template.replacingOccurrences(of: "\r\n", with: "\n")
        // Jinja2's keep_trailing_newline=False: a single trailing newline is not part of the output.
        if text.hasSuffix("\n") { text.removeLast() }
        source = Array(text.unicodeScalars)
    }

    static let symbols = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                          "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=", ";"]

    mutating func pieces() throws(JinjaError) -> [TemplatePiece] {
        var pieces: [TemplatePiece] = []
        var stripLeading = false
        var lineStarting = true
        while position < source.count {
            let tagStart = nextTagStart(from: position)
            var text = String(String.UnicodeScalarView(source[position..<tagStart]))
            countLines(text)
            if stripLeading { text = String(text.drop(while: \.isWhitespace)) }
            stripLeading = false
            guard tagStart < source.count else {
                if !text.isEmpty { pieces.append(.text(text)) }
                break
            }
            let kind = source[tagStart + 1]
            let modifier: Unicode.Scalar? = tagStart + 2 < source.count ? source[tagStart + 2] : nil
            if modifier == "-" {
                while let last = text.last, last.isWhitespace { text.removeLast() }
            } else if kind != "{" && modifier != "+" {
                // lstrip_blocks: only spaces and tabs between the line's start and the tag.
                let lineStart = text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
                if (lineStart != text.startIndex || lineStarting),
                   text[lineStart...].allSatisfy({ $0.isWhitespace && $0 != "\n" }) {
                    text.removeSubrange(lineStart...)
                }
            }
            if !text.isEmpty { pieces.append(.text(text)) }
            position = tagStart + 2 + (modifier == "-" || modifier == "+" ? 1 : 0)
            let tagLine = line

            switch kind {
            case "#":
                guard let end = find("#}", from: position) else { throw JinjaError.syntax("unterminated comment", line: tagLine) }
                countLines(String(String.UnicodeScalarView(source[position..<end])))
                stripLeading = end > position && source[end - 1] == "-"
                let keepNewline = end > position && source[end - 1] == "+"
                position = end + 2
                lineStarting = trimNewline(after: stripLeading || keepNewline)
            case "{":
                let (tokens, endModifier) = try tagTokens(closing: "}", line: tagLine)
                pieces.append(.output(tokens, line: tagLine))
                stripLeading = endModifier == "-"
                lineStarting = false
            default:
                let (tokens, endModifier) = try tagTokens(closing: "%", line: tagLine)
                stripLeading = endModifier == "-"
                if tokens == [.name("raw")] {
                    lineStarting = trimNewline(after: stripLeading || endModifier == "+")
                    try readRaw(into: &pieces, line: tagLine, stripLeading: stripLeading)
                    stripLeading = false
                    continue
                }
                pieces.append(.statement(tokens, line: tagLine))
                lineStarting = trimNewline(after: stripLeading || endModifier == "+")
            }
        }
        return pieces
    }

    /// trim_blocks: drops the newline right after a block tag; says whether one was dropped.
    private mutating func trimNewline(after modified: Bool) -> Bool {
        guard !modified, position < source.count, source[position] == "\n" else { return false }
        position += 1
        line += 1
        return true
    }

    private mutating func countLines(_ text: String) {
        line += text.unicodeScalars.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
    }

    private func nextTagStart(from start: Int) -> Int {
        var index = start
        while index + 1 < source.count {
            if source[index] == "{", source[index + 1] == "{" || source[index + 1] == "%" || source[index + 1] == "#" { return index }
            index += 1
        }
        return source.count
    }

    private func find(_ marker: String, from start: Int) -> Int? {
        let needle = Array(marker.unicodeScalars)
        var index = start
        while index + needle.count <= source.count {
            if Array(source[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }

    /// `{% raw %}…{% endraw %}`: the text in between, untouched.
    private mutating func readRaw(into pieces: inout [TemplatePiece], line tagLine: Int, stripLeading: Bool) throws(JinjaError) {
        var search = position
        while let open = find("{%", from: search) {
            var cursor = open + 2
            let minus = cursor < source.count && source[cursor] == "-"
            if minus || (cursor < source.count && source[cursor] == "+") { cursor += 1 }
            while cursor < source.count, source[cursor] == " " || source[cursor] == "\t" || source[cursor] == "\n" { cursor += 1 }
            let word = Array("endraw".unicodeScalars)
            guard cursor + word.count <= source.count, Array(source[cursor..<cursor + word.count]) == word else {
                search = open + 2
                continue
            }
            cursor += word.count
            while cursor < source.count, source[cursor] == " " || source[cursor] == "\t" || source[cursor] == "\n" { cursor += 1 }
            var endMinus = false
            if cursor < source.count, source[cursor] == "-" || source[cursor] == "+" { endMinus = source[cursor] == "-"; cursor += 1 }
            guard cursor + 1 < source.count, source[cursor] == "%", source[cursor + 1] == "}" else { break }
            var text = String(String.UnicodeScalarView(source[position..<open]))
            countLines(text)
            if stripLeading { text = String(text.drop(while: \.isWhitespace)) }
            if minus { while let last = text.last, last.isWhitespace { text.removeLast() } }
            if !text.isEmpty { pieces.append(.text(text)) }
            position = cursor + 2
            if endMinus {
                while position < source.count, Character(source[position]).isWhitespace { position += 1 }
            } else {
                _ = trimNewline(after: false)
            }
            return
        }
        throw JinjaError.syntax("'raw' block is never closed with 'endraw'", line: tagLine)
    }

    /// The tokens of a tag up to its closing `}}` or `%}` (outside brackets), and the modifier
    /// (`-` or `+`) written before the close.
    private mutating func tagTokens(closing: Unicode.Scalar, line tagLine: Int) throws(JinjaError) -> ([JinjaToken], Unicode.Scalar?) {
        var tokens: [JinjaToken] = []
        var depth = 0
        while true {
            while position < source.count, Character(source[position]).isWhitespace {
                if source[position] == "\n" { line += 1 }
                position += 1
            }
            guard position < source.count else {
                throw JinjaError.syntax("a tag opened here is never closed with '\(closing)}'", line: tagLine)
            }
            if depth == 0 {
                for modifier in ["-", "+", ""] {
                    let close = Array((modifier + String(closing) + "}").unicodeScalars)
                    if position + close.count <= source.count, Array(source[position..<position + close.count]) == close {
                        position += close.count
                        return (tokens, modifier.isEmpty ? nil : modifier.unicodeScalars.first)
                    }
                }
            }
            let scalar = source[position]
            if scalar == "_" || scalar.properties.isAlphabetic {
                let start = position
                while position < source.count, source[position] == "_" || source[position].properties.isAlphabetic
                    || ("0"..."9").contains(source[position]) { position += 1 }
                tokens.append(.name(String(String.UnicodeScalarView(source[start..<position]))))
            } else if ("0"..."9").contains(scalar) {
                tokens.append(readNumber())
            } else if scalar == "'" || scalar == "\"" {
                tokens.append(.string(try readString(quote: scalar, line: tagLine)))
            } else {
                guard let symbol = Self.symbols.first(where: { matches($0) }) else {
                    throw JinjaError.syntax("unexpected character '\(scalar)'", line: line)
                }
                position += symbol.unicodeScalars.count
                if symbol == "(" || symbol == "[" || symbol == "{" { depth += 1 }
                if symbol == ")" || symbol == "]" || symbol == "}" { depth -= 1 }
                tokens.append(.symbol(symbol))
            }
        }
    }

    private func matches(_ symbol: String) -> Bool {
        let scalars = Array(symbol.unicodeScalars)
        return position + scalars.count <= source.count && Array(source[position..<position + scalars.count]) == scalars
    }

    private mutating func readNumber() -> JinjaToken {
        let start = position
        func digits() { while position < source.count, ("0"..."9").contains(source[position]) || source[position] == "_" { position += 1 } }
        digits()
        var isFloat = false
        if position + 1 < source.count, source[position] == ".", ("0"..."9").contains(source[position + 1]) {
            isFloat = true
            position += 1
            digits()
        }
        if position < source.count, source[position] == "e" || source[position] == "E" {
            var look = position + 1
            if look < source.count, source[look] == "+" || source[look] == "-" { look += 1 }
            if look < source.count, ("0"..."9").contains(source[look]) {
                isFloat = true
                position = look
                digits()
            }
        }
        let text = String(String.UnicodeScalarView(source[start..<position])).replacingOccurrences(of: "_", with: "")
        if !isFloat, let value = Int(text) { return .int(value) }
        return .double(Double(text) ?? 0)
    }

    /// A string literal with Python's escapes (`\n`, `\t`, `\\`, `\'`, `\"`, `\xNN`, `\uNNNN`).
    private mutating func readString(quote: Unicode.Scalar, line tagLine: Int) throws(JinjaError) -> String {
        position += 1
        var out = String.UnicodeScalarView()
        while position < source.count {
            let scalar = source[position]
            position += 1
            if scalar == quote { return String(out) }
            if scalar == "\n" { line += 1 }
            guard scalar == "\\", position < source.count else { out.append(scalar); continue }
            let escape = source[position]
            position += 1
            switch escape {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "0": out.append("\u{0}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "\n": line += 1
            case "x", "u", "U":
                let width = escape == "x" ? 2 : escape == "u" ? 4 : 8
                guard position + width <= source.count,
                      let code = UInt32(String(String.UnicodeScalarView(source[position..<position + width])), radix: 16),
                      let decoded = Unicode.Scalar(code) else {
                    throw JinjaError.syntax("invalid \\\(escape) escape in a string", line: line)
                }
                out.append(decoded)
                position += width
            case "\\", "'", "\"": out.append(escape)
            default:
                out.append("\\")
                out.append(escape)
            }
        }
        throw JinjaError.syntax("unterminated string", line: tagLine)
    }
}
