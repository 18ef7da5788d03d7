import ArgumentParser
import Foundation
import Kernels
import LlamaModel
import ModelIO
import Quantization

/// `tessera bench linear`: the frozen linear (dequantize a tile into scratch, then sgemm) in its
/// forward (y = x·Wᵀ) and backward (dx = dy·W) over each storage of the base weight.
struct BenchLinearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "Measure the frozen linear's forward and input-gradient GFLOP/s for NF4, NF4+DQ and fp32 weights.")

    @Option(help: "Output features (rows of W).") var rows = 1536
    @Option(help: "Input features (columns of W).") var columns = 576
    @Option(help: "Tokens (rows of x).") var tokens = 512
    @Option(help: "Seconds per measurement.") var seconds = 0.5
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard rows > 0, columns > 0, columns % 64 == 0, tokens > 0, seconds > 0 else {
            throw ValidationError("sizes must be positive and --columns a multiple of 64 (the NF4 block)")
        }
    }

    func run() throws {
        BLAS.setThreadCount(1)
        var state: UInt64 = 42
        let values = (0..<(rows * columns)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.1
        }
        let dense = try FrozenMatrix(name: "bench", rows: rows, columns: columns, values: values)
        let storages: [(String, FrozenMatrix)] = [
            ("fp32", dense),
            ("NF4", try dense.converted(to: .nf4(doubleQuantization: false))),
            ("NF4+DQ", try dense.converted(to: .nf4(doubleQuantization: true))),
        ]
        let x = FloatBuffer(count: tokens * columns), y = FloatBuffer(count: tokens * rows)
        for i in 0..<x.count { x[i] = Float(i % 7) * 0.01 }
        for i in 0..<y.count { y[i] = Float(i % 5) * 0.01 }
        let scratch = FloatBuffer(count: dense.scratchCount)
        let flops = 2.0 * Double(tokens * rows * columns)
        func measure(_ body: () throws -> Void) throws -> Double {
            try body()
            var best = Double.infinity
            let deadline = monotonicSeconds() + seconds
            repeat {
                let start = monotonicSeconds()
                try body()
                best = min(best, monotonicSeconds() - start)
            } while monotonicSeconds() < deadline
            return flops / best / 1e9
        }
        var results: [[String: Any]] = []
        // The fp32 products, then (where the CPU has AVX512-BF16) the bf16 ones of the same weights.
        var runs = storages.map { ($0.0, $0.1, ComputePrecision.fp32) }
        if LinearCompute.bf16Available { runs += storages.map { ($0.0 + " bf16", $0.1, ComputePrecision.bf16) } }
        for (name, matrix, precision) in runs {
            let context = ComputeContext(precision: precision)
            let forward = try context.bind {
                try measure { try matrix.linearForward(out: y.pointer, inp: x.pointer, tokens: tokens, scratch: scratch.pointer) }
            }
            let backward = try context.bind {
                try measure { try matrix.linearBackwardInput(dinp: x.pointer, dout: y.pointer, tokens: tokens, scratch: scratch.pointer) }
            }
            results.append(["storage": name, "forward_gflops": forward, "backward_gflops": backward,
                            "bytes": matrix.storedBytes, "bits_per_parameter": matrix.bitsPerParameter])
        }
        if json {
            Console.print(Console.json(["rows": rows, "columns": columns, "tokens": tokens, "blas_core": BLAS.coreName,
                                        "results": results] as [String: Any]))
            return
        }
        Console.print("frozen linear W [\(rows), \(columns)], x [\(tokens), \(columns)], one thread, \(BLAS.coreName)"
                      + (LinearCompute.bf16Available ? "; bf16 rows: vdpbf16ps products (--compute bf16)" : ""))
        Console.print(Console.table(
            header: ["weight", "bits/param", "forward y = x·Wᵀ GFLOP/s", "backward dx = dy·W GFLOP/s"],
            rows: results.map { r in
                [r["storage"] as? String ?? "", String(format: "%.3f", r["bits_per_parameter"] as? Double ?? 0),
                 String(format: "%.1f", r["forward_gflops"] as? Double ?? 0), String(format: "%.1f", r["backward_gflops"] as? Double ?? 0)]
            }))
    }
}
