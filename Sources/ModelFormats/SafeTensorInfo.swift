// The description of one tensor in a safetensors file, validated by the reader.

/// A tensor stored in a safetensors file.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
    public let name: String
    /// The element type.
    public let dtype: SafeTensorsDType
    /// The shape, row-major (last dimension fastest), as PyTorch reports it.
    public let shape: [Int]
    /// Absolute byte range of the tensor's data in the file.
    public let range: Range<Int>

    /// The number of elements (1 for a scalar, 0 when a dimension is 0).
    public var elementCount: Int { shape.reduce(1, *) }
}
