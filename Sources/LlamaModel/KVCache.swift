// Keys and values of past positions for incremental decoding, preallocated to a capacity.
// Legend: L = layers, P = capacity (positions), G·D = key/value width.

import Kernels

/// Per-layer keys (RoPE applied) and values of the positions processed so far.
public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold.
    public let capacity: Int
    /// Positions filled so far (the next token's position).
    public internal(set) var count = 0
    let width: Int
    let keys: FloatBuffer       // [L, P, G·D]
    let values: FloatBuffer     // [L, P, G·D]

    /// An empty cache for `capacity` positions of `model`.
    public init(model: Llama, capacity: Int) {
        precondition(capacity > 0, "KVCache: capacity must be positive")
        self.capacity = capacity
        width = model.config.keyValueWidth
        keys = FloatBuffer(count: model.config.numHiddenLayers * capacity * width)
        values = FloatBuffer(count: model.config.numHiddenLayers * capacity * width)
    }

    /// Forgets every position (the buffers are reused).
    public func reset() { count = 0 }

    /// Keys of `layer`, position 0: `[P, G·D]`.
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys.pointer + layer * capacity * width }
    /// Values of `layer`, position 0: `[P, G·D]`.
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values.pointer + layer * capacity * width }
}
