import ArgumentParser
import Foundation
import Kernels
import LlamaModel
import ModelIO

/// `tessera bench forward`: model load cost and forward (evaluation) throughput on one rank.
struct BenchForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Measure model load time, forward tokens/s and peak memory on one process.")

    @OptionGroup var modelOption: ModelOption
    @OptionGroup var baseQuant: BaseQuantOption
    @Option(help: "Sequences per forward.") var batch = 4
    @Option(help: "Tokens per sequence.") var seqLen = 256
    @Option(help: "Timed forwards after one warm-up.") var steps = 3
    @Option(help: "BLAS threads.") var threads = 1
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard batch > 0, seqLen > 1, steps > 0, threads > 0 else {
            throw ValidationError("--batch, --seq-len (> 1), --steps and --threads must be positive")
        }
    }

    func run() throws {
        BLAS.setThreadCount(threads)
        let loadStart = monotonicSeconds()
        let model = try ModelPath(modelOption.resolved).load(baseQuantization: baseQuant.resolved, threads: threads)
        let loadSeconds = monotonicSeconds() - loadStart
        let loadRSS = ProcessMemory.peakResidentBytes()
        guard seqLen <= model.maxPositions else {
            throw ValidationError("--seq-len \(seqLen) exceeds the model's \(model.maxPositions) positions")
        }
        // Deterministic pseudo-random ids: the cost of a forward does not depend on the text.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let vocab = model.config.vocabSize
        let sequences = (0..<batch).map { _ in
            (0..<seqLen).map { _ -> Int in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int(state >> 33) % vocab
            }
        }
        let workspace = LlamaWorkspace(model: model, maxTokens: batch * seqLen)
        _ = try model.evaluate(sequences: sequences, workspace: workspace)
        let start = monotonicSeconds()
        for _ in 0..<steps { _ = try model.evaluate(sequences: sequences, workspace: workspace) }
        let seconds = (monotonicSeconds() - start) / Double(steps)
        let tokensPerSecond = Double(batch * seqLen) / seconds
        let c = model.config
        // Forward FLOPs per token: 2 · (linear parameters + head) + attention (2 · 2 · T/2 · H·D per layer, causal average).
        let linear = c.numHiddenLayers * (2 * c.hiddenSize * c.queryWidth + 2 * c.hiddenSize * c.keyValueWidth + 3 * c.hiddenSize * c.intermediateSize)
        let attention = c.numHiddenLayers * 2 * seqLen * c.queryWidth
        let flopsPerToken = 2.0 * Double(linear + c.vocabSize * c.hiddenSize) + Double(attention)
        let peak = ProcessMemory.peakResidentBytes()
        if json {
            Console.print(Console.json([
                "load_seconds": loadSeconds, "rss_after_load_bytes": loadRSS, "peak_rss_bytes": peak,
                "batch": batch, "seq_len": seqLen, "tokens_per_s": tokensPerSecond,
                "gflops_per_s": tokensPerSecond * flopsPerToken / 1e9, "blas_core": BLAS.coreName, "threads": threads,
                "base_storage": model.weights.baseLinearStorageDescription,
                "base_bits_per_parameter": model.weights.baseLinearBitsPerParameter,
                "base_linear_bytes": model.weights.baseLinearStoredBytes,
            ] as [String: Any]))
        } else {
            Console.print(String(format: "load %.3f s (peak RSS after load %.0f MB); forward %d × %d tokens: %.0f tokens/s, %.1f GFLOP/s; peak RSS %.0f MB; %@ × %d thread(s)",
                                 loadSeconds, Double(loadRSS) / 1e6, batch, seqLen, tokensPerSecond,
                                 tokensPerSecond * flopsPerToken / 1e9, Double(peak) / 1e6, BLAS.coreName, threads))
            Console.print(String(format: "base linears %@: %.3f bits/parameter, %.1f MB",
                                 model.weights.baseLinearStorageDescription, model.weights.baseLinearBitsPerParameter,
                                 Double(model.weights.baseLinearStoredBytes) / 1e6))
        }
    }
}
