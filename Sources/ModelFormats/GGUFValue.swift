// A GGUF metadata value, with typed accessors for the shapes of value that readers ask for
// ("an integer of any width", "an array of strings"), so callers need not match every case.

/// One GGUF metadata value. Arrays hold values of one type (nested arrays are allowed).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The string, when this is a string.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value of any integer case, when it fits in `Int`.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value of a float or integer case, as a `Double`.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        case .int64(let v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    /// The flag, when this is a bool.
    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, when this is an array.
    public var array: [GGUFValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The elements, when this is an array of strings.
    public var stringArray: [String]? {
        guard case .array(let values) = self else { return nil }
        var result: [String] = []
        result.reserveCapacity(values.count)
        for value in values {
            guard case .string(let s) = value else { return nil }
            result.append(s)
        }
        return result
    }

    /// The elements, when this is an array of integers that all fit in `Int`.
    public var intArray: [Int]? {
        guard case .array(let values) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            guard let v = value.int else { return nil }
            result.append(v)
        }
        return result
    }

    /// The elements as `Float`, when this is an array of floats or integers.
    public var floatArray: [Float]? {
        guard case .array(let values) = self else { return nil }
        var result: [Float] = []
        result.reserveCapacity(values.count)
        for value in values {
            if case .float32(let v) = value {
                result.append(v)
            } else if let v = value.double {
                result.append(Float(v))
            } else {
                return nil
            }
        }
        return result
    }
}
