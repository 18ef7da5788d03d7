// Jinja2's filters that chat templates use (`| trim`, `| tojson`, `| selectattr(…)`, …). `tojson`
// is transformers' version: `json.dumps(ensure_ascii=False)`, no HTML escaping.
import Foundation

extension JinjaBuiltins {
    static func filter(_ name: String, _ value: JinjaValue, _ arguments: JinjaCallArguments,
                       _ interpreter: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        switch name {
        case "default", "d":
            let fallback = arguments.value(0, "default_value") ?? .string("")
            let boolean = arguments.value(1, "boolean")?.isTruthy ?? false
            return value.isUndefined || (boolean && !value.isTruthy) ? fallback : value
        case "trim":
            let characters: String? = if case .string(let chars)? = arguments.value(0, "chars") { chars } else { nil }
            return .string(strip(value.text, characters: characters, leading: true, trailing: true))
        case "length", "count":
            switch value {
            case .string(let text): return .int(text.unicodeScalars.count)
            case .array(let values): return .int(values.count)
            case .object(let object): return .int(object.keys.count)
            case .undefined: return .int(0)
            default: throw JinjaError.type("object of type '\(value.typeName)' has no length")
            }
        case "tojson":
            var indent: Int?
            if case .int(let width)? = arguments.value(0, "indent") { indent = width }
            let sortKeys = arguments.value(3, "sort_keys")?.isTruthy ?? false
            var separators: (item: String, key: String)?
            if case .array(let pair)? = arguments.value(2, "separators"), pair.count == 2 { separators = (pair[0].text, pair[1].text) }
            return .string(try value.json(indent: indent, sortKeys: sortKeys, separators: separators))
        case "format":
            return .string(try printf(value.text, arguments.positional))
        case "string": return .string(value.text)
        case "upper": return .string(value.text.uppercased())
        case "lower": return .string(value.text.lowercased())
        case "capitalize": return .string(value.text.prefix(1).uppercased() + value.text.dropFirst().lowercased())
        case "title": return .string(title(value.text))
        case "e", "escape":
            return .string(value.text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;")
                .replacingOccurrences(of: "'", with: "&#39;"))
        case "replace":
            guard case .string(let old)? = arguments.value(0, "old"), case .string(let new)? = arguments.value(1, "new") else {
                throw JinjaError.type("replace takes two strings")
            }
            var count = -1
            if case .int(let limit)? = arguments.value(2, "count") { count = limit }
            return .string(replace(value.text, old, new, count: count))
        case "first":
            let items = try iterate(value)
            return items.first ?? .undefined("first item of an empty sequence")
        case "last":
            let items = try iterate(value)
            return items.last ?? .undefined("last item of an empty sequence")
        case "list": return .array(try iterate(value))
        case "reverse":
            if case .string(let text) = value { return .string(String(String.UnicodeScalarView(text.unicodeScalars.reversed()))) }
            return .array(try iterate(value).reversed())
        case "join":
            var items = try iterate(value)
            if case .string(let attribute)? = arguments.value(1, "attribute") {
                items = try items.map { (item) throws(JinjaError) in try attributePath(item, attribute, interpreter) }
            }
            let separator = arguments.value(0, "d")?.text ?? ""
            return .string(items.map(\.text).joined(separator: separator))
        case "map":
            let items = try iterate(value)
            if case .string(let attribute)? = arguments.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = arguments.keywords.first { $0.0 == "default" }?.1
                return .array(try items.map { (item) throws(JinjaError) in
                    let found = try attributePath(item, attribute, interpreter)
                    return found.isUndefined ? fallback ?? found : found
                })
            }
            guard case .string(let filterName)? = arguments.positional.first else { throw JinjaError.type("map needs a filter name or attribute=") }
            let rest = JinjaCallArguments(positional: Array(arguments.positional.dropFirst()), keywords: arguments.keywords)
            return .array(try items.map { (item) throws(JinjaError) in try filter(filterName, item, rest, interpreter) })
        case "selectattr", "rejectattr":
            guard case .string(let attribute)? = arguments.positional.first else { throw JinjaError.type("\(name) needs an attribute name") }
            let testName = arguments.positional.count > 1 ? arguments.positional[1].text : nil
            let rest = JinjaCallArguments(positional: Array(arguments.positional.dropFirst(2)), keywords: [])
            var kept: [JinjaValue] = []
            for item in try iterate(value) {
                let found = try attributePath(item, attribute, interpreter)
                let passes = if let testName { try test(testName, found, rest, interpreter) } else { found.isTruthy }
                if passes == (name == "selectattr") { kept.append(item) }
            }
            return .array(kept)
        case "select", "reject":
            let testName = arguments.positional.first?.text
            let rest = JinjaCallArguments(positional: Array(arguments.positional.dropFirst()), keywords: [])
            var kept: [JinjaValue] = []
            for item in try iterate(value) {
                let passes = if let testName { try test(testName, item, rest, interpreter) } else { item.isTruthy }
                if passes == (name == "select") { kept.append(item) }
            }
            return .array(kept)
        case "items":
            guard case .object(let object) = value else {
                if value.isUndefined { return .array([]) }
                throw JinjaError.type("items needs a dict, not \(value.typeName)")
            }
            return .array(object.keys.map { .array([.string($0), object[$0] ?? .none]) })
        case "dictsort":
            guard case .object(let object) = value else { throw JinjaError.type("dictsort needs a dict") }
            return .array(object.keys.sorted { $0.lowercased() < $1.lowercased() }.map { .array([.string($0), object[$0] ?? .none]) })
        case "unique":
            var seen: [JinjaValue] = []
            for item in try iterate(value) where !seen.contains(item) { seen.append(item) }
            return .array(seen)
        case "sort":
            let reverse = arguments.value(0, "reverse")?.isTruthy ?? false
            let attribute: String? = if case .string(let path)? = arguments.keywords.first(where: { $0.0 == "attribute" })?.1 { path } else { nil }
            var keyed: [(JinjaValue, JinjaValue)] = []
            for item in try iterate(value) { keyed.append((try attribute.map { (path) throws(JinjaError) in try attributePath(item, path, interpreter) } ?? item, item)) }
            // Insertion sort: stable, as Python's sort is, and free to throw on incomparable items.
            for index in keyed.indices.dropFirst() {
                var position = index
                while position > 0, try compare(reverse ? ">" : "<", keyed[position].0, keyed[position - 1].0) {
                    keyed.swapAt(position, position - 1)
                    position -= 1
                }
            }
            return .array(keyed.map(\.1))
        case "sum":
            var total = JinjaValue.int(0)
            for item in try iterate(value) { total = try binary("+", total, item) }
            return total
        case "min", "max":
            let items = try iterate(value)
            guard var best = items.first else { return .undefined("\(name) of an empty sequence") }
            for item in items.dropFirst() where try compare(name == "min" ? "<" : ">", item, best) { best = item }
            return best
        case "int":
            switch value {
            case .int: return value
            case .double(let number): return .int(Int(number))
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .string(let text): return .int(Int(text.trimmingCharacters(in: .whitespaces)) ?? Int(Double(text) ?? 0))
            default: return arguments.value(0, "default") ?? .int(0)
            }
        case "float":
            switch value {
            case .int(let number): return .double(Double(number))
            case .double: return value
            case .string(let text): return .double(Double(text.trimmingCharacters(in: .whitespaces)) ?? 0)
            default: return arguments.value(0, "default") ?? .double(0)
            }
        case "abs":
            switch value {
            case .int(let number): return .int(abs(number))
            case .double(let number): return .double(abs(number))
            default: throw JinjaError.type("abs needs a number")
            }
        case "round":
            guard let number = value.number else { throw JinjaError.type("round needs a number") }
            var digits = 0
            if case .int(let precision)? = arguments.value(0, "precision") { digits = precision }
            let scale = pow(10, Double(digits))
            let rule: FloatingPointRoundingRule = switch arguments.value(1, "method")?.text {
            case "ceil": .up
            case "floor": .down
            default: .toNearestOrEven
            }
            return .double((number * scale).rounded(rule) / scale)
        case "indent":
            var width = 4
            if case .int(let spaces)? = arguments.value(0, "width") { width = spaces }
            let prefix: String = if case .string(let text)? = arguments.value(0, "width") { text } else { String(repeating: " ", count: width) }
            let indentFirst = arguments.value(1, "first")?.isTruthy ?? false
            let indentBlank = arguments.value(2, "blank")?.isTruthy ?? false
            let lines = value.text.split(separator: "\n", omittingEmptySubsequences: false)
            return .string(lines.enumerated().map { index, line in
                (index == 0 && !indentFirst) || (line.isEmpty && !indentBlank) ? String(line) : prefix + line
            }.joined(separator: "\n"))
        case "wordcount":
            return .int(try split(value.text, separator: nil, limit: -1, fromEnd: false).count)
        case "batch":
            guard case .int(let size)? = arguments.positional.first, size > 0 else { throw JinjaError.type("batch needs a positive size") }
            let items = try iterate(value)
            return .array(stride(from: 0, to: items.count, by: size).map { .array(Array(items[$0..<min($0 + size, items.count)])) })
        default:
            if name == "safe" { return value }
            throw JinjaError.unknown("unknown filter '\(name)'")
        }
    }

    /// `attribute='a.b'` as Jinja2's filters read it: item then attribute, dotted paths allowed.
    static func attributePath(_ value: JinjaValue, _ path: String, _ interpreter: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        var current = value
        for part in path.split(separator: ".") {
            if case .undefined = current { return current }
            let key: JinjaValue = Int(part).map { .int($0) } ?? .string(String(part))
            current = try interpreter.item(current, key, describing: .name(path))
        }
        return current
    }
}
