// A model's vital statistics without running it: architecture, parameter count, how its
// tensors are stored, and what the frozen weights cost in memory in each representation.
import ModelFormats
import Quantization

/// Facts about a model on disk, for `tessera info --model`.
public struct ModelSummary: Sendable {
    public let config: LlamaConfig
    /// Unique parameters (a tied head counted once), as transformers' `num_parameters()`.
    public let parameterCount: Int
    /// Stored element type → tensor count.
    public let formats: [String: Int]
    /// Bytes of tensor data as stored in the file.
    public let storedBytes: Int
    /// Parameters in the seven linear weights of every layer (what NF4 quantizes).
    public let linearParameterCount: Int
    /// Stored bytes of those linear weights.
    public let linearStoredBytes: Int

    /// Names of the per-layer linear weights in both naming schemes.
    static func isLayerLinear(_ name: String) -> Bool {
        let suffixes = ["attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "_proj.weight"]
        return suffixes.contains { name.hasSuffix($0) } && !name.hasPrefix("lm_head")
    }

    /// Reads the summary of a GGUF file or Hugging Face directory.
    public init(path: ModelPath) throws {
        // (name, format, elements, bytes) of every tensor.
        var tensors: [(name: String, format: String, elements: Int, bytes: Int)] = []
        switch path {
        case .gguf(let file):
            let gguf = try GGUFFile(path: file)
            config = try LlamaConfig(gguf: gguf)
            tensors = gguf.tensors.filter { $0.name != "rope_freqs.weight" }
                .map { ($0.name, $0.type.description, $0.elementCount, $0.byteCount) }
        case .huggingFace(let directory):
            config = try LlamaConfig(contentsOf: .init(fileURLWithPath: directory + "/config.json"))
            let checkpoint = try SafeTensorsCheckpoint(path: directory)
            for name in checkpoint.tensorNames {
                guard let location = checkpoint.tensor(named: name) else { continue }
                tensors.append((name, "\(location.info.dtype)", location.info.elementCount, location.info.range.count))
            }
        }
        parameterCount = tensors.reduce(0) { $0 + $1.elements }
        formats = Dictionary(tensors.map { ($0.format, 1) }, uniquingKeysWith: +)
        storedBytes = tensors.reduce(0) { $0 + $1.bytes }
        let linear = tensors.filter { Self.isLayerLinear($0.name) }
        linearParameterCount = linear.reduce(0) { $0 + $1.elements }
        linearStoredBytes = linear.reduce(0) { $0 + $1.bytes }
    }

    /// Bytes of the frozen base when its linear weights are NF4 with double quantization (4.127
    /// bits per parameter) and everything else stays as stored.
    public var nf4Bytes: Int {
        let bitsPerParameter = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)  // codes + 8-bit absmax + nested absmax
        return storedBytes - linearStoredBytes + Int(Double(linearParameterCount) * bitsPerParameter / 8)
    }

    /// Bytes of the whole model in fp32.
    public var fp32Bytes: Int { parameterCount * 4 }
}
