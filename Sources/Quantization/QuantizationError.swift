// Errors thrown by the Quantization module. Each case carries the values needed to say what
// went wrong and what to do about it.

/// An error from quantizing or dequantizing a tensor.
public enum QuantizationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation has no implementation for this GGML type.
    case unsupportedType(GGMLType, operation: String)
    /// A range start or length is not a whole number of blocks, or is negative.
    case notBlockAligned(GGMLType, firstElement: Int, count: Int)
    /// The bytes a range needs lie (partly) outside the buffer that was passed.
    case outOfBounds(GGMLType, firstElement: Int, count: Int, bytesNeeded: Int, bytesAvailable: Int)
    /// A destination buffer is smaller than the result.
    case destinationTooSmall(needed: Int, available: Int)
    /// An input value is NaN or infinite where only finite values can be quantized.
    case nonFiniteInput(index: Int, value: Float)
    /// A tensor shape is empty, has a non-positive dimension, or overflows `Int`.
    case invalidShape([Int])
    /// A stored field's length does not match what the tensor's shape implies.
    case fieldSizeMismatch(field: String, expected: Int, actual: Int)
    /// A row range is empty, reversed or outside the tensor.
    case invalidRowRange(lower: Int, upper: Int, rows: Int)

    public var description: String {
        switch self {
        case let .unsupportedType(type, operation):
            return "\(operation) is not implemented for GGML type \(type) (id \(type.rawValue)); "
                + "convert the tensor to a supported type (dequantize: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K; quantize: Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K)."
        case let .notBlockAligned(type, first, count):
            return "range [\(first), \(first) + \(count)) of a \(type) tensor is not aligned to its "
                + "\(type.blockElements)-element blocks; start and length must be non-negative multiples of \(type.blockElements)."
        case let .outOfBounds(type, first, count, needed, available):
            return "\(type) elements [\(first), \(first) + \(count)) need bytes up to \(needed) but the "
                + "buffer holds \(available) bytes; the tensor data is truncated or its shape/offset is wrong."
        case let .destinationTooSmall(needed, available):
            return "destination holds \(available) elements but \(needed) are needed; pass a larger buffer."
        case let .nonFiniteInput(index, value):
            return "input element \(index) is \(value); only finite values can be quantized, check the source weights."
        case let .invalidShape(shape):
            return "tensor shape \(shape) is invalid; every dimension must be positive and the element count must fit in Int."
        case let .fieldSizeMismatch(field, expected, actual):
            return "field '\(field)' has \(actual) entries but the tensor shape needs \(expected); "
                + "the quantized tensor is inconsistent (wrong shape or block size?)."
        case let .invalidRowRange(lower, upper, rows):
            return "row range \(lower)..<\(upper) is not inside a tensor of \(rows) rows."
        }
    }
}
