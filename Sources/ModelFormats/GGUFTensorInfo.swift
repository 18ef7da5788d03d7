// The description of one tensor in a GGUF file, validated by the reader before it is exposed.

import Quantization

/// A tensor stored in a GGUF file: name, shape, element type and where its bytes are.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// The shape in GGUF `ne` order: `dimensions[0]` is the fastest-varying (row length).
    /// An HF `[out, in]` weight appears here as `[in, out]`.
    public let dimensions: [Int]
    /// The element (block) type.
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int
    /// Size of the tensor's data in bytes.
    public let byteCount: Int

    /// The number of elements (product of the dimensions; checked for overflow when read).
    public var elementCount: Int { dimensions.reduce(1, *) }

    init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }
}
