import Foundation

// Python methods templates call on strings, dicts and lists (`content.strip()`,
// `message.get('tool_calls')`, `text.split('</think>')`). Strings are handled as sequences of
// Unicode scalars, as Python's `str` is, so offsets and matches agree with transformers.

extension JinjaBuiltins {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "title",
        "capitalize", "replace", "find", "rfind", "count", "join", "splitlines", "isdigit", "isalpha", "isspace",
        "isupper", "islower", "format",
    ]
    static let objectMethods: Set<String> = ["items", "keys", "values", "get"]
    static let listMethods: Set<String> = ["index", "count"]

    static func method(_ name: String, on receiver: JinjaValue, _ arguments: JinjaCallArguments,
                       _ interpreter: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        switch receiver {
        case .string(let text): return try stringMethod(name, text, arguments)
        case .object(let object):
            switch name {
            case "items": return .array(object.keys.map { .array([.string($0), object[$0] ?? .none]) })
            case "keys": return .array(object.keys.map { .string($0) })
            case "values": return .array(object.keys.map { object[$0] ?? .none })
            case "get":
                guard case .string(let key)? = arguments.positional.first else { throw JinjaError.type("get() takes a string key") }
                return object[key] ?? arguments.value(1, "default") ?? .none
            default: break
            }
        case .int(let index) where name == "loop.cycle":
            guard !arguments.positional.isEmpty else { throw JinjaError.type("loop.cycle() needs at least one value") }
            return arguments.positional[index % arguments.positional.count]
        case .array(let values):
            guard let needle = arguments.positional.first else { break }
            switch name {
            case "index":
                guard let found = values.firstIndex(of: needle) else { throw JinjaError.type("\(needle.repr) is not in list") }
                return .int(found)
            case "count": return .int(values.filter { $0 == needle }.count)
            default: break
            }
        default: break
        }
        throw JinjaError.unknown("'\(receiver.typeName)' object has no method '\(name)'")
    }

    private static func stringMethod(_ name: String, _ text: String, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue {
        func stringArgument(_ position: Int, _ keyword: String) throws(JinjaError) -> String? {
            switch arguments.value(position, keyword) {
            case nil, .some(JinjaValue.none): return nil
            case .string(let value)?: return value
            case let other?: throw JinjaError.type("\(name)() argument must be a string, not \(other.typeName)")
            }
        }
        switch name {
        case "strip": return .string(strip(text, characters: try stringArgument(0, "chars"), leading: true, trailing: true))
        case "lstrip": return .string(strip(text, characters: try stringArgument(0, "chars"), leading: true, trailing: false))
        case "rstrip": return .string(strip(text, characters: try stringArgument(0, "chars"), leading: false, trailing: true))
        case "split", "rsplit":
            var limit = -1
            if case .int(let value)? = arguments.value(1, "maxsplit") { limit = value }
            let parts = try split(text, separator: try stringArgument(0, "sep"), limit: limit, fromEnd: name == "rsplit")
            return .array(parts.map { .string($0) })
        case "splitlines":
            return .array(text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { .string(String($0)) }.dropLast(text.last?.isNewline == true ? 1 : 0))
        case "startswith", "endswith":
            let candidates: [String]
            switch arguments.positional.first {
            case .string(let value)?: candidates = [value]
            case .array(let values)?: candidates = values.map(\.text)
            default: throw JinjaError.type("\(name)() takes a string or a tuple of strings")
            }
            let scalars = Array(text.unicodeScalars)
            return .bool(candidates.contains { candidate in
                let part = Array(candidate.unicodeScalars)
                return name == "startswith" ? scalars.starts(with: part) : scalars.reversed().starts(with: part.reversed())
            })
        case "upper": return .string(text.uppercased())
        case "lower": return .string(text.lowercased())
        case "title": return .string(title(text))
        case "capitalize": return .string(text.prefix(1).uppercased() + text.dropFirst().lowercased())
        case "replace":
            guard let old = try stringArgument(0, "old"), let new = try stringArgument(1, "new") else {
                throw JinjaError.type("replace() takes two strings")
            }
            var count = -1
            if case .int(let value)? = arguments.value(2, "count") { count = value }
            return .string(replace(text, old, new, count: count))
        case "find", "rfind":
            guard let part = try stringArgument(0, "sub") else { throw JinjaError.type("\(name)() takes a string") }
            let ranges = matches(of: part, in: Array(text.unicodeScalars))
            return .int((name == "find" ? ranges.first : ranges.last) ?? -1)
        case "count":
            guard let part = try stringArgument(0, "sub") else { throw JinjaError.type("count() takes a string") }
            return .int(part.isEmpty ? text.unicodeScalars.count + 1 : try split(text, separator: part, limit: -1, fromEnd: false).count - 1)
        case "join":
            guard let items = arguments.positional.first else { throw JinjaError.type("join() takes an iterable") }
            return .string(try iterate(items).map(\.text).joined(separator: text))
        case "isdigit": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal })
        case "isalpha": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy(\.properties.isAlphabetic))
        case "isspace": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy(\.properties.isWhitespace))
        case "isupper": return .bool(text.contains { $0.isLetter } && text == text.uppercased())
        case "islower": return .bool(text.contains { $0.isLetter } && text == text.lowercased())
        case "format": return .string(try format(text, arguments))
        default: throw JinjaError.unknown("'str' object has no method '\(name)'")
        }
    }

    /// Python `str.strip([chars])`: whitespace, or any of `characters`, from either end.
    static func strip(_ text: String, characters: String?, leading: Bool, trailing: Bool) -> String {
        let set = characters.map { Set($0.unicodeScalars) }
        func removable(_ scalar: Unicode.Scalar) -> Bool { set?.contains(scalar) ?? scalar.properties.isWhitespace }
        var scalars = Substring(text).unicodeScalars[...]
        if leading { while let first = scalars.first, removable(first) { scalars.removeFirst() } }
        if trailing { while let last = scalars.last, removable(last) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Start offsets (in scalars) of the non-overlapping occurrences of `part`.
    static func matches(of part: String, in scalars: [Unicode.Scalar]) -> [Int] {
        let needle = Array(part.unicodeScalars)
        guard !needle.isEmpty, needle.count <= scalars.count else { return needle.isEmpty ? [0] : [] }
        var found: [Int] = []
        var index = 0
        while index + needle.count <= scalars.count {
            if scalars[index] == needle[0], Array(scalars[index..<index + needle.count]) == needle {
                found.append(index)
                index += needle.count
            } else {
                index += 1
            }
        }
        return found
    }

    /// Python `str.split(sep, maxsplit)` / `rsplit`; without a separator, runs of whitespace.
    static func split(_ text: String, separator: String?, limit: Int, fromEnd: Bool) throws(JinjaError) -> [String] {
        let scalars = Array(text.unicodeScalars)
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        guard let separator else {
            var words: [Range<Int>] = []
            var index = 0
            while index < scalars.count {
                while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
                guard index < scalars.count else { break }
                let start = index
                while index < scalars.count, !scalars[index].properties.isWhitespace { index += 1 }
                words.append(start..<index)
            }
            guard limit >= 0, words.count > limit + 1 else { return words.map(string) }
            if fromEnd {
                let kept = words.suffix(limit)
                let rest = strip(string(0..<kept.first!.lowerBound), characters: nil, leading: false, trailing: true)
                return [rest] + kept.map(string)
            }
            let kept = words.prefix(limit)
            let rest = strip(string(kept.last!.upperBound..<scalars.count), characters: nil, leading: true, trailing: false)
            return kept.map(string) + [rest]
        }
        guard !separator.isEmpty else { throw JinjaError.type("empty separator") }
        let width = separator.unicodeScalars.count
        var starts = matches(of: separator, in: scalars)
        if limit >= 0, starts.count > limit { starts = fromEnd ? Array(starts.suffix(limit)) : Array(starts.prefix(limit)) }
        var parts: [String] = []
        var previous = 0
        for start in starts {
            parts.append(string(previous..<start))
            previous = start + width
        }
        parts.append(string(previous..<scalars.count))
        return parts
    }

    static func replace(_ text: String, _ old: String, _ new: String, count: Int) -> String {
        if old.isEmpty { return text }
        let scalars = Array(text.unicodeScalars)
        var starts = matches(of: old, in: scalars)
        if count >= 0 { starts = Array(starts.prefix(count)) }
        var out = String.UnicodeScalarView()
        var previous = 0
        for start in starts {
            out.append(contentsOf: scalars[previous..<start])
            out.append(contentsOf: new.unicodeScalars)
            previous = start + old.unicodeScalars.count
        }
        out.append(contentsOf: scalars[previous...])
        return String(out)
    }

    /// Python `str.title()`: a letter after a non-letter is upper-cased, the others lower-cased.
    static func title(_ text: String) -> String {
        var out = ""
        var previousIsLetter = false
        for character in text {
            out += previousIsLetter ? character.lowercased() : character.uppercased()
            previousIsLetter = character.isLetter
        }
        return out
    }

    /// Python `str.format` with `{}` and `{0}` / `{name}` fields (no format specs).
    private static func format(_ text: String, _ arguments: JinjaCallArguments) throws(JinjaError) -> String {
        var out = ""
        var automatic = 0
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{", next < text.endIndex, text[next] == "{" { out += "{"; index = text.index(after: next); continue }
            if character == "}", next < text.endIndex, text[next] == "}" { out += "}"; index = text.index(after: next); continue }
            guard character == "{" else { out.append(character); index = next; continue }
            guard let close = text[next...].firstIndex(of: "}") else { throw JinjaError.type("format(): unmatched '{'") }
            let field = String(text[next..<close])
            let value: JinjaValue?
            if field.isEmpty {
                value = automatic < arguments.positional.count ? arguments.positional[automatic] : nil
                automatic += 1
            } else if let position = Int(field) {
                value = position < arguments.positional.count ? arguments.positional[position] : nil
            } else {
                value = arguments.keywords.first { $0.0 == field }?.1
            }
            guard let value else { throw JinjaError.type("format(): no argument for field '{\(field)}'") }
            out += value.text
            index = text.index(after: close)
        }
        return out
    }
}

extension JinjaBuiltins {
    /// Python's `format % values` (and Jinja's `format` filter): `%s %r %d %i %f %e %g %x %o %c %%`
    /// with flags, width and precision.
    static func printf(_ format: String, _ values: [JinjaValue]) throws(JinjaError) -> String {
        var out = ""
        var next = 0
        var scalars = Array(format.unicodeScalars)[...]
        func take() throws(JinjaError) -> JinjaValue {
            guard next < values.count else { throw JinjaError.type("not enough arguments for format string") }
            next += 1
            return values[next - 1]
        }
        while let scalar = scalars.popFirst() {
            guard scalar == "%" else { out.unicodeScalars.append(scalar); continue }
            var spec = "%"
            while let flag = scalars.first, "-+ #0".unicodeScalars.contains(flag) { spec.unicodeScalars.append(flag); scalars.removeFirst() }
            while let digit = scalars.first, ("0"..."9").contains(digit) || digit == "." { spec.unicodeScalars.append(digit); scalars.removeFirst() }
            guard let type = scalars.popFirst() else { throw JinjaError.type("incomplete format") }
            switch type {
            case "%": out += "%"
            case "s", "r":
                let value = try take()
                let text = type == "s" ? value.text : value.repr
                out += pad(text, spec)
            case "d", "i", "x", "X", "o", "c":
                let value = try take()
                guard let number = value.number else { throw JinjaError.type("%\(type) format: a number is required, not \(value.typeName)") }
                if type == "c" {
                    out += String(Character(Unicode.Scalar(UInt32(number)) ?? " "))
                } else {
                    out += String(format: spec + "l" + (type == "i" ? "d" : String(type)), Int(number))
                }
            case "f", "F", "e", "E", "g", "G":
                let value = try take()
                guard let number = value.number else { throw JinjaError.type("%\(type) format: a number is required, not \(value.typeName)") }
                out += String(format: spec + String(type), number)
            default:
                throw JinjaError.type("unsupported format character '\(type)'")
            }
        }
        return out
    }

    /// `%10s` / `%-10s`: the text padded to the width in the spec.
    private static func pad(_ text: String, _ spec: String) -> String {
        let digits = spec.drop { !("1"..."9").contains($0) }.prefix { ("0"..."9").contains($0) }
        guard let width = Int(digits), width > text.unicodeScalars.count else { return text }
        let padding = String(repeating: " ", count: width - text.unicodeScalars.count)
        return spec.contains("-") ? text + padding : padding + text
    }
}
