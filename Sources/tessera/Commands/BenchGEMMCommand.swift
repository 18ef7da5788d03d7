import ArgumentParser
import Collectives
import Foundation
import Kernels

/// `tessera bench gemm`: sgemm GFLOP/s per rank at the shapes of a transformer layer.
struct BenchGEMMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Measure sgemm GFLOP/s per rank at transformer-layer shapes (the MFU peak).")

    @Option(help: "Tokens per product (rows of the activations).") var tokens = 512
    @Option(help: "Hidden size.") var hidden = 576
    @Option(help: "Key/value projection width.") var kvDim = 192
    @Option(help: "FFN size.") var ffn = 1536
    @Option(help: "Vocabulary columns in one head chunk.") var vocabChunk = 8192
    @Option(help: "BLAS threads per rank.") var threads = 1
    @Option(help: "Seconds of timing per shape.") var seconds = 0.5
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(name: .long, help: ArgumentHelp(
        "Products to measure: fp32 (OpenBLAS sgemm, default) or bf16 (the frozen linears' bf16 products: AMX where present, else AVX512-BF16).",
        valueName: "fp32|bf16"))
    var compute: ComputePrecision = .fp32

    func validate() throws {
        guard tokens > 0, hidden > 0, kvDim > 0, ffn > 0, vocabChunk > 0 else {
            throw ValidationError("all sizes must be positive")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        if compute == .bf16 && !LinearCompute.bf16Available {
            throw ValidationError("--compute bf16 needs a CPU with AMX or AVX512-BF16 (and the AVX-512 kernels: TESSERA_KERNELS not set to avx2 or scalar)")
        }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            BLAS.setThreadCount(threads)
            let shapes = GEMMShape.transformerLayer(tokens: tokens, hidden: hidden, kvDim: kvDim, ffn: ffn, vocabChunk: vocabChunk)
            try world.barrier()
            let local = GEMMBenchmark.run(shapes, secondsPerShape: seconds, precision: compute)
            // Every rank measured at the same time: report the mean and the slowest rank.
            let sums = try world.allReduce(local.map(\.gflops), .sum)
            let minima = try world.allReduce(local.map(\.gflops), .min)
            guard world.isRoot else { return }
            let means = sums.map { $0 / Double(world.size) }
            let peak = means.max() ?? 0
            if json {
                Console.print(Console.json([
                    "blas_core": BLAS.coreName, "blas_threads": threads,
                    "compute": compute.rawValue, "kernel": LinearCompute.kernelDescription(compute), "ranks": world.size,
                    "peak_gflops_per_rank": peak,
                    "shapes": local.enumerated().map { i, m in
                        ["label": m.label, "m": m.m, "n": m.n, "k": m.k,
                         "trans_a": m.transA == .transposed, "trans_b": m.transB == .transposed,
                         "gflops_mean": means[i], "gflops_min": minima[i]] as [String: Any]
                    },
                ] as [String: Any]))
            } else {
                Console.print("\(LinearCompute.kernelDescription(compute)), \(BLASLauncher.note), \(threads) thread(s) per rank, \(world.size) rank(s) measuring at once")
                Console.print(Console.table(
                    header: ["product", "m", "n", "k", "GFLOP/s (mean/rank)", "GFLOP/s (slowest rank)"],
                    rows: local.enumerated().map { i, m in
                        [m.label, String(m.m), String(m.n), String(m.k),
                         String(format: "%.1f", means[i]), String(format: "%.1f", minima[i])]
                    }))
                Console.print(String(format: "peak: %.1f GFLOP/s per rank", peak))
            }
        }
    }
}
