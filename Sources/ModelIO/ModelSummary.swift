// A model's vital statistics without running it: architecture, parameter count, how its
// tensors are stored, and what the frozen weights cost in memory in each representation.
import LlamaModel
import ModelFormats
import Quantization

/// Facts about a model on disk, or about a shape without weights (a preset), for `tessera info
/// --model` and `tessera plan`.
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
    /// Element count of each of those linear weights (NF4 blocks are counted per matrix).
    public let linearElementCounts: [Int]

    /// Names of the per-layer linear weights in both naming schemes.
    static func isLayerLinear(_ name: String) -> Bool {
        let suffixes = ["attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_qkv.weight", "_proj.weight"]
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
            // bitsandbytes 4-bit weights: the packed U8 tensor counts the matrix's elements and
            // its auxiliary tensors (absmax, maps, quant state) add to its bytes.
            var auxiliaryBytes: [String: Int] = [:]
            for name in checkpoint.tensorNames {
                guard let location = checkpoint.tensor(named: name) else { continue }
                if let owner = BitsAndBytesNF4.owner(ofAuxiliary: name), checkpoint.tensor(named: owner) != nil {
                    auxiliaryBytes[owner, default: 0] += location.info.range.count
                } else if let state = try BitsAndBytesNF4.state(of: name, in: checkpoint) {
                    tensors.append((name, state.doubleQuantized ? "NF4+DQ" : "NF4", state.shape.reduce(1, *), location.info.range.count))
                } else {
                    tensors.append((name, "\(location.info.dtype)", location.info.elementCount, location.info.range.count))
                }
            }
            tensors = tensors.map { ($0.name, $0.format, $0.elements, $0.bytes + (auxiliaryBytes[$0.name] ?? 0)) }
        }
        parameterCount = tensors.reduce(0) { $0 + $1.elements }
        formats = Dictionary(tensors.map { ($0.format, 1) }, uniquingKeysWith: +)
        storedBytes = tensors.reduce(0) { $0 + $1.bytes }
        let linear = tensors.filter { Self.isLayerLinear($0.name) }
        linearParameterCount = linear.reduce(0) { $0 + $1.elements }
        linearStoredBytes = linear.reduce(0) { $0 + $1.bytes }
        linearElementCounts = linear.map(\.elements)
    }

    /// The summary of a model of shape `config` whose every tensor is stored as `format` with
    /// `bytesPerParameter` bytes per element (a preset: bf16, 2), listed by its HF names. The
    /// tensors are those `LlamaWeights(source:config:format:)` loads, so the count is what
    /// transformers' `num_parameters()` gives for the checkpoint.
    public init(config: LlamaConfig, format: String = "BF16", bytesPerParameter: Double = 2) throws {
        try config.validate()
        let names = config.architecture.tensorNames
        let c = config.hiddenSize, f = config.intermediateSize, v = config.vocabSize
        let qw = config.queryWidth, kvw = config.keyValueWidth
        var tensors: [(name: String, elements: Int)] = []
        func add(_ role: Architecture.TensorRole, _ layer: Int?, _ elements: Int) throws {
            tensors.append((try names.name(role, layer: layer, format: .huggingFace), elements))
        }
        try add(.embedding, nil, v * c)
        for l in 0..<config.numHiddenLayers {
            try add(.attentionNorm, l, c)
            if config.architecture.fusedProjections {
                try add(.qkv, l, (qw + 2 * kvw) * c)
            } else {
                try add(.q, l, qw * c)
                try add(.k, l, kvw * c)
                try add(.v, l, kvw * c)
            }
            try add(.o, l, c * qw)
            if config.attentionBias {
                try add(.qBias, l, qw)
                try add(.kBias, l, kvw)
                try add(.vBias, l, kvw)
            }
            if config.architecture.qkNorm == .rmsPerHead {
                try add(.qNorm, l, config.headDim)
                try add(.kNorm, l, config.headDim)
            }
            try add(.ffnNorm, l, c)
            if config.architecture.layerNorms == .sandwich {
                try add(.postAttentionNorm, l, c)
                try add(.postFFNNorm, l, c)
            }
            if config.architecture.fusedProjections {
                try add(.gateUp, l, 2 * f * c)
            } else {
                try add(.gate, l, f * c)
                try add(.up, l, f * c)
            }
            try add(.down, l, c * f)
        }
        try add(.outputNorm, nil, c)
        if !config.tieWordEmbeddings { try add(.output, nil, v * c) }
        let bytes = { (elements: Int) in Int((Double(elements) * bytesPerParameter).rounded()) }
        self.config = config
        parameterCount = tensors.reduce(0) { $0 + $1.elements }
        formats = [format: tensors.count]
        storedBytes = tensors.reduce(0) { $0 + bytes($1.elements) }
        let linear = tensors.filter { Self.isLayerLinear($0.name) }
        linearParameterCount = linear.reduce(0) { $0 + $1.elements }
        linearStoredBytes = linear.reduce(0) { $0 + bytes($1.elements) }
        linearElementCounts = linear.map(\.elements)
    }

    /// Bytes of the frozen base when its linear weights are held as `base` (what
    /// `LlamaWeights.quantizedBase` produces) and everything else stays as stored.
    public func baseBytes(_ base: BaseQuantization) -> Int {
        storedBytes - linearStoredBytes + linearBytes(base)
    }

    /// Bytes of the linear weights alone when held as `base`.
    public func linearBytes(_ base: BaseQuantization) -> Int {
        if base == .stored { return linearStoredBytes }
        return linearElementCounts.reduce(0) { $0 + base.storedBytes(elements: $1) }
    }

    /// Bytes per linear weight value as the file stores them (2 for bf16, 0.625 for Q4_1).
    public var linearBytesPerParameter: Double {
        linearParameterCount == 0 ? 2 : Double(linearStoredBytes) / Double(linearParameterCount)
    }

    /// Bits per parameter of the linear weights when held as `base` (about 4.127 for NF4 with
    /// double quantization, 4.5 without).
    public func linearBitsPerParameter(_ base: BaseQuantization) -> Double {
        linearParameterCount == 0 ? 0 : Double(linearBytes(base) * 8) / Double(linearParameterCount)
    }

    /// Bytes of the frozen base with QLoRA's default NF4 + double quantization.
    public var nf4Bytes: Int { baseBytes(.default) }

    /// Bytes of the whole model in fp32.
    public var fp32Bytes: Int { parameterCount * 4 }

    /// Stored bytes per embedding (and untied head) parameter: everything that is neither a layer
    /// linear nor a norm, over the table parameters. Training keeps these in stored precision, so
    /// this is what `CapacityPlanner`'s memory formula needs for a model on disk.
    public var embeddingBytesPerParameter: Double {
        let norms = (2 * config.numHiddenLayers + 1) * config.hiddenSize * 4
        let tableParameters = (config.tieWordEmbeddings ? 1 : 2) * config.vocabSize * config.hiddenSize
        return Double(storedBytes - linearStoredBytes - norms) / Double(max(tableParameters, 1))
    }
}
