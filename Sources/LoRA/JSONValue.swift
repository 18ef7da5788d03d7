// Any JSON value, for the `adapter_config.json` fields whose type varies (`target_modules` is a
// list or a string, `init_lora_weights` a bool or a string) or that must merely be at their
// default (`alpha_pattern`, `modules_to_save`, ...).

/// A decoded JSON value.
enum JSONValue: Decodable, Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// `null`, `false`, `""`, `[]` or `{}`: what PEFT writes for an unused option.
    var isUnset: Bool {
        switch self {
        case .null: return true
        case .bool(let value): return !value
        case .string(let value): return value.isEmpty
        case .array(let values): return values.isEmpty
        case .object(let values): return values.isEmpty
        case .number: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .string(let value): return "\"\(value)\""
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .object(let values): return "{" + values.keys.sorted().map { "\"\($0)\": \(values[$0] ?? .null)" }.joined(separator: ", ") + "}"
        }
    }
}
