import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import ModelIO
import LoRA

/// `tessera info`: versions, the MPI world, the BLAS and element-wise kernels, and every rank's
/// host and pid.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show versions, the MPI world, BLAS kernels and per-rank hosts.")

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Also describe this model: a .gguf file, a Hugging Face directory or config.json, or a preset (\(ModelPreset.names.joined(separator: ", "))).")
    var model: String?

    @OptionGroup(title: "LoRA (with --model: print PEFT's trainable-parameter line)")
    var lora: LoRAOptions

    func run() throws {
        if let model {
            try describeModel(model)
            return
        }
        MPISession.run { environment in
            let world = environment.world
            let host = ProcessInfo.processInfo.hostName
            let identity = "\(host)\t\(getpid())\t\(BLAS.coreName)\t\(BLAS.threadCount)\t\(VectorMath.kernelPath)"
            let ranks = try world.allGather(string: identity).map { $0.split(separator: "\t").map(String.init) }
            guard world.isRoot else { return }
            let rankRows: [[String: Any]] = ranks.enumerated().map { rank, fields in
                ["rank": rank, "host": fields[0], "pid": Int(fields[1]) ?? 0, "blas_core": fields[2],
                 "blas_threads": Int(fields[3]) ?? 0, "kernels": fields[4]]
            }
            if json {
                Console.print(Console.json([
                    "version": TesseraVersion.string,
                    "mpi_library": MPIEnvironment.libraryVersion,
                    "mpi_standard": MPIEnvironment.standardVersion,
                    "world_size": world.size,
                    "thread_level": environment.threadLevel.description,
                    "blas_core": BLAS.coreName,
                    "blas_threads": BLAS.threadCount,
                    "blas_note": BLASLauncher.note,
                    "kernels": VectorMath.kernelPath,
                    "kernels_cpu_best": VectorMath.bestKernelPath,
                    "compute_default": LinearCompute.defaultPrecision.rawValue,
                    "compute_default_kernel": LinearCompute.kernelDescription(LinearCompute.defaultPrecision),
                    "amx": LinearCompute.amxAvailable,
                    "ranks": rankRows,
                ] as [String: Any]))
            } else {
                Console.print("tessera \(TesseraVersion.string)")
                Console.print("MPI:          \(MPIEnvironment.libraryVersion) (standard \(MPIEnvironment.standardVersion))")
                Console.print("world size:   \(world.size)")
                Console.print("thread level: \(environment.threadLevel)")
                Console.print("BLAS:         \(BLASLauncher.note), \(BLAS.threadCount) thread(s)")
                let forced = VectorMath.kernelPath == VectorMath.bestKernelPath ? "" : " (TESSERA_KERNELS; CPU best \(VectorMath.bestKernelPath))"
                Console.print("kernels:      \(VectorMath.kernelPath)\(forced)")
                Console.print("linears:      \(LinearCompute.kernelDescription(LinearCompute.defaultPrecision)) by default (--compute fp32|bf16)\(LinearCompute.amxAvailable ? "" : Self.noAMXNote)")
                Console.print(Console.table(
                    header: ["rank", "host", "pid", "blas core", "threads", "kernels"],
                    rows: ranks.enumerated().map { [String($0.offset)] + $0.element }))
            }
        }
    }

    /// Why bf16 is not the default here: no AMX, or it is switched off.
    static var noAMXNote: String {
        if LinearCompute.amxSupported { return "; AMX off (TESSERA_AMX=0 or TESSERA_KERNELS)" }
        return LinearCompute.bf16Available ? "; no AMX (bf16 on request runs on AVX512-BF16)" : "; no AMX or AVX512-BF16"
    }

    /// Architecture, parameter count, tensor formats and memory of a model on disk or a preset
    /// (whose tensors are counted as published, bf16).
    private func describeModel(_ name: String) throws {
        let source = try ModelSource(name)
        let summary = try source.summary()
        let c = summary.config
        let path = source.name
        if lora.given {
            // Exactly PEFT's print_trainable_parameters() line, alone, for scripts to compare.
            let config = lora.config(baseModel: path)
            let adapter = try LoRAAdapter(config: config, targets: config.targets(for: c))
            Console.print(adapter.trainableParametersLine(totalBaseParameters: summary.parameterCount))
            return
        }
        let stored = source.hasWeights ? "as stored" : "as published (no weights: shapes only)"
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        if json {
            Console.print(Console.json([
                "model": path, "weights_on_disk": source.hasWeights, "architecture": c.modelType, "parameters": summary.parameterCount,
                "layers": c.numHiddenLayers, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
                "attention_heads": c.numAttentionHeads, "key_value_heads": c.numKeyValueHeads, "head_dim": c.headDim,
                "vocab_size": c.vocabSize, "rope_theta": c.ropeTheta, "tied_embeddings": c.tieWordEmbeddings,
                "tensor_formats": summary.formats, "stored_bytes": summary.storedBytes,
                "nf4_base_bytes": summary.nf4Bytes, "fp32_bytes": summary.fp32Bytes,
                "nf4_linear_bits_per_parameter": summary.linearBitsPerParameter(.default),
                "nf4_plain_linear_bits_per_parameter": summary.linearBitsPerParameter(.nf4(doubleQuantization: false)),
            ] as [String: Any]))
            return
        }
        Console.print("model:        \(path)" + (source.hasWeights ? "" : " (shapes only, no weights)"))
        Console.print("architecture: \(c.modelType), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), FFN \(c.intermediateSize)")
        Console.print("attention:    \(c.numAttentionHeads) heads, \(c.numKeyValueHeads) KV heads, head dim \(c.headDim), RoPE θ \(c.ropeTheta)")
        Console.print("vocabulary:   \(c.vocabSize)\(c.tieWordEmbeddings ? ", tied embeddings" : "")")
        Console.print("parameters:   \(summary.parameterCount.formatted(.number.grouping(.automatic)))")
        Console.print("formats:      " + summary.formats.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", "))
        Console.print("memory:       \(stored) \(mib(summary.storedBytes))\(source.hasWeights ? " (memory-mapped)" : ""), NF4 base \(mib(summary.nf4Bytes)), fp32 \(mib(summary.fp32Bytes))")
        Console.print(String(format: "NF4 base:     %.3f bits/parameter over %@ linear parameters with double quantization (%.3f without)",
                             summary.linearBitsPerParameter(.default),
                             summary.linearParameterCount.formatted(.number.grouping(.automatic)),
                             summary.linearBitsPerParameter(.nf4(doubleQuantization: false))))
    }
}
