// Where weights come from: a file that can list a tensor's storage type, HF-order shape and
// bytes by name. GGUF and safetensors both conform, so the loader and its checks exist once.

import LlamaModel
import ModelFormats
import Quantization

/// One stored tensor as the loader sees it.
public struct StoredTensor {
    /// Storage type (F32/F16/BF16 for safetensors, any GGML type for GGUF).
    public var type: GGMLType
    /// Shape in HF order, outermost first (`[out, in]` for a linear weight).
    public var shape: [Int]
    /// The tensor's bytes inside the mapping.
    public var bytes: UnsafeRawBufferPointer
}

/// A checkpoint whose tensors can be looked up by name.
public protocol WeightSource {
    /// The object that keeps every returned byte range valid (the mapped file).
    var owner: AnyObject { get }
    /// A human-readable location for messages.
    var location: String { get }
    /// The tensor called `name`, or nil when absent.
    func storedTensor(named name: String) throws -> StoredTensor?
    /// A `[rows, columns]` linear weight stored pre-quantized under `name` (bitsandbytes NF4),
    /// or nil when `name` is a plain tensor for `storedTensor(named:)`.
    func quantizedMatrix(named name: String, rows: Int, columns: Int) throws -> FrozenMatrix?
}

extension WeightSource {
    /// Plain checkpoints hold no pre-quantized matrices.
    public func quantizedMatrix(named name: String, rows: Int, columns: Int) throws -> FrozenMatrix? { nil }
}

extension GGUFFile: WeightSource {
    public var owner: AnyObject { self }
    public var location: String { path }

    /// GGUF lists dimensions fastest-first (ne[0] is the row length): HF order is the reverse.
    public func storedTensor(named name: String) throws -> StoredTensor? {
        guard let info = tensor(named: name) else { return nil }
        return StoredTensor(type: info.type, shape: info.dimensions.reversed(), bytes: data(for: info))
    }
}
