// The built-in functions, tests and operators of the engine. Filters and methods have their own
// files (`JinjaBuiltins+Filters.swift`, `JinjaBuiltins+Methods.swift`).
import Foundation

enum JinjaBuiltins {
    static let functions: Set<String> = ["range", "namespace", "raise_exception", "strftime_now", "dict"]

    /// What `for` iterates over: list items, a dict's keys, a string's characters.
    static func iterate(_ value: JinjaValue) throws(JinjaError) -> [JinjaValue] {
        switch value {
        case .array(let values): return values
        case .object(let object): return object.keys.map { .string($0) }
        case .string(let text): return text.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw JinjaError.type("'\(value.typeName)' object is not iterable")
        }
    }

    static func call(_ name: String, _ arguments: JinjaCallArguments, _ interpreter: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        switch name {
        case "range":
            let numbers = try arguments.positional.map { (value) throws(JinjaError) -> Int in
                guard case .int(let number) = value else { throw JinjaError.type("range() takes integers, not \(value.typeName)") }
                return number
            }
            let (start, stop, step): (Int, Int, Int)
            switch numbers.count {
            case 1: (start, stop, step) = (0, numbers[0], 1)
            case 2: (start, stop, step) = (numbers[0], numbers[1], 1)
            case 3: (start, stop, step) = (numbers[0], numbers[1], numbers[2])
            default: throw JinjaError.type("range() takes 1 to 3 arguments")
            }
            guard step != 0 else { throw JinjaError.type("range() step must not be zero") }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        case "namespace":
            var object = JinjaObject()
            for value in arguments.positional {
                guard case .object(let initial) = value else { throw JinjaError.type("namespace() takes a dict or keyword arguments") }
                for key in initial.keys { object[key] = initial[key] }
            }
            for (key, value) in arguments.keywords { object[key] = value }
            interpreter.namespaces.append(object)
            return .namespace(interpreter.namespaces.count - 1)
        case "dict":
            var object = JinjaObject()
            for (key, value) in arguments.keywords { object[key] = value }
            return .object(object)
        case "raise_exception":
            throw JinjaError.raised(arguments.positional.first?.text ?? "the template raised an exception")
        case "strftime_now":
            guard case .string(let format)? = arguments.positional.first else { throw JinjaError.type("strftime_now() takes a format string") }
            return .string(strftime(format, at: interpreter.now ?? Date().timeIntervalSince1970))
        default:
            throw JinjaError.unknown("unknown function '\(name)'")
        }
    }

    /// C `strftime` in UTC, which is what Python's `datetime.now().strftime` gives on a UTC host.
    static func strftime(_ format: String, at seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [Int8](repeating: 0, count: 256)
        let count = Foundation.strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Tests

    static func test(_ name: String, _ value: JinjaValue, _ arguments: JinjaCallArguments, _ interpreter: JinjaInterpreter) throws(JinjaError) -> Bool {
        let argument = arguments.positional.first
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value == .none && !value.isUndefined
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "sequence", "iterable":
            switch value {
            case .array, .string, .object: return true
            default: return false
            }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": return value == .bool(true) && { if case .bool = value { true } else { false } }()
        case "false": return value == .bool(false) && { if case .bool = value { true } else { false } }()
        case "callable": if case .callable = value { return true } else { return false }
        case "odd", "even":
            guard case .int(let number) = value else { throw JinjaError.type("'\(name)' needs an integer, not \(value.typeName)") }
            return (number % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard case .int(let number) = value, case .int(let divisor)? = argument, divisor != 0 else {
                throw JinjaError.type("'divisibleby' needs two integers")
            }
            return number % divisor == 0
        case "lower": return value.text == value.text.lowercased()
        case "upper": return value.text == value.text.uppercased()
        case "equalto", "eq", "==", "sameas": return value == (argument ?? .none)
        case "ne", "!=": return value != (argument ?? .none)
        case "lt", "lessthan", "<": return try compare("<", value, argument ?? .none)
        case "le", "<=": return try compare("<=", value, argument ?? .none)
        case "gt", "greaterthan", ">": return try compare(">", value, argument ?? .none)
        case "ge", ">=": return try compare(">=", value, argument ?? .none)
        case "in": return try contains(argument ?? .none, value)
        default: throw JinjaError.unknown("unknown test '\(name)'")
        }
    }

    // MARK: Operators

    static func binary(_ op: String, _ left: JinjaValue, _ right: JinjaValue) throws(JinjaError) -> JinjaValue {
        switch op {
        case "==": return .bool(left == right)
        case "!=": return .bool(left != right)
        case "<", "<=", ">", ">=": return .bool(try compare(op, left, right))
        case "in": return .bool(try contains(right, left))
        case "not in": return .bool(!(try contains(right, left)))
        case "~": return .string(left.text + right.text)
        case "%":
            if case .string(let format) = left {
                let values: [JinjaValue] = if case .array(let items) = right { items } else { [right] }
                return .string(try printf(format, values))
            }
        case "+":
            switch (left, right) {
            case (.string(let a), .string(let b)): return .string(a + b)
            case (.array(let a), .array(let b)): return .array(a + b)
            default: break
            }
        case "*":
            switch (left, right) {
            case (.string(let text), .int(let count)), (.int(let count), .string(let text)):
                return .string(String(repeating: text, count: max(count, 0)))
            case (.array(let values), .int(let count)), (.int(let count), .array(let values)):
                return .array(Array((0..<max(count, 0)).map { _ in values }.joined()))
            default: break
            }
        default: break
        }
        if case .int(let a) = left, case .int(let b) = right {
            switch op {
            case "+": return .int(a &+ b)
            case "-": return .int(a &- b)
            case "*": return .int(a &* b)
            case "/": guard b != 0 else { throw JinjaError.type("division by zero") }; return .double(Double(a) / Double(b))
            case "//":
                guard b != 0 else { throw JinjaError.type("integer division by zero") }
                return .int(Int((Double(a) / Double(b)).rounded(.down)))
            case "%":
                guard b != 0 else { throw JinjaError.type("modulo by zero") }
                let remainder = a % b
                return .int(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
            case "**": return b >= 0 ? .int(Int(pow(Double(a), Double(b)))) : .double(pow(Double(a), Double(b)))
            default: break
            }
        }
        if let a = left.number, let b = right.number, !isBool(left) || !isBool(right) || ["+", "-", "*"].contains(op) {
            switch op {
            case "+": return .double(a + b)
            case "-": return .double(a - b)
            case "*": return .double(a * b)
            case "/": guard b != 0 else { throw JinjaError.type("division by zero") }; return .double(a / b)
            case "//": guard b != 0 else { throw JinjaError.type("division by zero") }; return .double((a / b).rounded(.down))
            case "%": guard b != 0 else { throw JinjaError.type("modulo by zero") }; return .double(a - b * (a / b).rounded(.down))
            case "**": return .double(pow(a, b))
            default: break
            }
        }
        throw JinjaError.type("unsupported operand types for \(op): '\(describeOperand(left))' and '\(describeOperand(right))'")
    }

    private static func isBool(_ value: JinjaValue) -> Bool {
        if case .bool = value { return true }
        return false
    }

    private static func describeOperand(_ value: JinjaValue) -> String {
        if case .undefined(let name) = value { return "undefined (\(name))" }
        return value.typeName
    }

    static func compare(_ op: String, _ left: JinjaValue, _ right: JinjaValue) throws(JinjaError) -> Bool {
        let order: Int
        if let a = left.number, let b = right.number {
            order = a < b ? -1 : a > b ? 1 : 0
        } else if case .string(let a) = left, case .string(let b) = right {
            // Python compares strings by code point.
            let (x, y) = (Array(a.unicodeScalars).map(\.value), Array(b.unicodeScalars).map(\.value))
            order = x.lexicographicallyPrecedes(y) ? -1 : x == y ? 0 : 1
        } else {
            throw JinjaError.type("'\(op)' is not supported between '\(describeOperand(left))' and '\(describeOperand(right))'")
        }
        switch op {
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        default: return order >= 0
        }
    }

    /// Python `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue) throws(JinjaError) -> Bool {
        switch container {
        case .string(let text):
            guard case .string(let part) = needle else { throw JinjaError.type("'in <string>' needs a string on the left, not \(needle.typeName)") }
            return part.isEmpty || !matches(of: part, in: Array(text.unicodeScalars)).isEmpty
        case .array(let values): return values.contains(needle)
        case .object(let object):
            guard case .string(let key) = needle else { return false }
            return object[key] != nil
        case .namespace, .undefined: return false
        default: throw JinjaError.type("argument of type '\(container.typeName)' is not iterable")
        }
    }
}
