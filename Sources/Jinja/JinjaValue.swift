// The values a Jinja template computes with. They follow Python's semantics, as Jinja2 (the
// engine transformers renders chat templates with) does: truthiness, equality, `str()` and `repr()`.

/// A value in a template: what the caller passes in (messages, tools, flags) and what expressions
/// compute. A pure value type, so a rendering context can be built once and shared.
public indirect enum JinjaValue: Sendable, Equatable {
    /// A name or attribute that does not exist; prints as nothing, is falsy and iterates as empty.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object(JinjaObject)
    /// A `namespace()` object: mutable across loop scopes, so it lives in the interpreter.
    case namespace(Int)
    case callable(JinjaCallable)

    /// Python truthiness.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let value): return value
        case .int(let value): return value != 0
        case .double(let value): return value != 0
        case .string(let value): return !value.isEmpty
        case .array(let values): return !values.isEmpty
        case .object(let object): return !object.keys.isEmpty
        case .namespace, .callable: return true
        }
    }

    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The name Python gives the value's type, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        }
    }

    /// The number as a Double, for arithmetic and comparisons that mix int and float.
    var number: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }

    /// Python `==`: numbers compare by value across int, float and bool.
    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.keys == b.keys && a.storage == b.storage
        case (.namespace(let a), .namespace(let b)): return a == b
        case (.callable(let a), .callable(let b)): return a == b
        default:
            if let a = lhs.number, let b = rhs.number { return a == b }
            return false
        }
    }

    /// Python `str()`: what `{{ value }}` prints.
    public var text: String {
        switch self {
        case .undefined: return ""
        case .string(let value): return value
        default: return repr
        }
    }

    /// Python `repr()`: strings quoted, containers in Python's list and dict syntax.
    public var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let value): return value ? "True" : "False"
        case .int(let value): return String(value)
        case .double(let value): return Self.pythonFloat(value)
        case .string(let value): return Self.pythonStringRepr(value)
        case .array(let values): return "[" + values.map(\.repr).joined(separator: ", ") + "]"
        case .object(let object):
            return "{" + object.keys.map { Self.pythonStringRepr($0) + ": " + (object.storage[$0] ?? .none).repr }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        case .callable: return "<function>"
        }
    }

    /// Python's float formatting: shortest round trip, always with a `.` or an exponent.
    static func pythonFloat(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == value.rounded(), abs(value) < 1e16 { return String(format: "%.1f", value) }
        return "\(value)"
    }

    /// Python's `repr` of a string: single quotes unless the text holds one and no double quote.
    static func pythonStringRepr(_ value: String) -> String {
        let quote: Character = value.contains("'") && !value.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote { out += "\\" + String(quote) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out.append(quote)
        return out
    }
}

/// A dictionary that keeps its insertion order, as Python's does (JSON objects keep the order
/// they were written in, and `tojson` writes them back in it).
public struct JinjaObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var storage: [String: JinjaValue] = [:]
    /// The index of the conversation message this object is; the renderer attributes what a
    /// template prints while looping over it to that message.
    public var messageIndex: Int?

    public init(_ pairs: [(String, JinjaValue)] = [], messageIndex: Int? = nil) {
        for (key, value) in pairs { self[key] = value }
        self.messageIndex = messageIndex
    }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if storage[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            storage[key] = newValue
        }
    }

    public static func == (lhs: JinjaObject, rhs: JinjaObject) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }
}

/// Something a template can call: a built-in function, a method bound to a value, or a macro.
public indirect enum JinjaCallable: Sendable, Equatable {
    case function(String)
    case method(receiver: JinjaValue, name: String)
    case macro(Int)
}
