import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import ModelIO
import Parallelism
import ProcessGroups

/// `tessera bench load`: how long opening a model takes (mapping, slicing this rank's part of
/// every matrix, NF4 + double-quant conversion) and how much memory it needs on the way, per
/// rank of any tensor-parallel mesh. The same load `train` and `bench train` run.
struct BenchLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Measure model load and NF4 conversion time and peak memory per rank (any tp, under mpirun).",
        discussion: """
            Prints per rank: seconds from the first read to the loaded model, the resident set \
            before, at its peak and after, the bytes of the base the rank holds (its slices of the \
            seven linears in the target precision, embedding and head rows as stored), and the \
            load peak (peak less before), which must stay within the base held plus a working set \
            bounded by one layer: \
            the rank's slices of its seven matrices as stored in the file (mapped pages, released \
            after the layer), one fp32 tile of 2^20 values per conversion thread and the layer's \
            gathered block statistics; that bound is printed beside the measurement. Run on a file \
            whose pages are not cached to include the disk (`echo 3 > /proc/sys/vm/drop_caches`).
            """)

    @Option(help: "A .gguf file or Hugging Face directory (default: \(ModelOption.defaultRelativePath)), or a preset / config.json (random weights generated slice by slice).")
    var model: String?
    @Option(help: "Seed of the random weights of a preset or config.json.") var weightSeed: UInt64 = 0
    @OptionGroup var baseQuant: BaseQuantOption
    @Option(help: "Tensor-parallel ranks per model copy.") var tp = 1
    @Option(help: "Conversion threads per rank (default: the BLAS threads).") var threads: Int?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            let threadCount = threads ?? BLAS.threadCount
            let before = ProcessMemory.currentResidentBytes() ?? ProcessMemory.peakResidentBytes()
            let readBefore = ProcessMemory.storageBytesRead() ?? 0
            let (loaded, seconds, shard, source) = try world.agreed { () throws -> (Llama, Double, LlamaShard, ModelSource) in
                let mesh = try ProcessMesh(world: world, tp: tp)
                let source = try ModelSource(ModelOption.resolve(model))
                let shards = try ShardPlanner.plan(try source.config(), tp: tp, columnAlignment: try source.shardColumnAlignment())
                try world.barrier()
                let start = monotonicSeconds()
                let loaded = try source.load(baseQuantization: baseQuant.resolved, shard: shards[mesh.tpRank],
                                             group: mesh.tensorParallel, seed: weightSeed, threads: threadCount)
                return (loaded, monotonicSeconds() - start, shards[mesh.tpRank], source)
            }
            let peak = ProcessMemory.peakResidentBytes()
            let after = ProcessMemory.currentResidentBytes() ?? peak
            let held = loaded.weights.baseStoredBytes(tiedEmbeddings: loaded.config.tieWordEmbeddings)
            let bound = try Self.workingSetBound(source: source, config: loaded.config, shard: shard, threads: threadCount)
            let read = (ProcessMemory.storageBytesRead() ?? 0) - readBefore
            let local = [seconds, Double(before), Double(peak), Double(after), Double(held), Double(bound), Double(read)]
            let rows = try world.allGather(local)
            let perRank = (0..<world.size).map { Array(rows[($0 * local.count)..<(($0 + 1) * local.count)]) }
            guard world.isRoot else { return }
            let names = ["seconds", "rss_before_bytes", "peak_rss_bytes", "rss_after_bytes", "base_held_bytes", "working_set_bound_bytes", "storage_read_bytes"]
            if json {
                Console.print(Console.json([
                    "model": source.hasWeights ? source.name : "\(source.name) (random weights, seed \(weightSeed))",
                    "ranks": world.size, "tp": tp, "base": baseQuant.resolved.description, "threads_per_rank": threadCount,
                    "cpu": BLASCoreSelection.cpuModelName(),
                    "per_rank": perRank.map { Dictionary(uniqueKeysWithValues: zip(names, $0)) }
                        .enumerated().map { i, row in
                            row.merging(["load_peak_bytes": row["peak_rss_bytes"]! - row["rss_before_bytes"]!, "rank": Double(i)]) { a, _ in a }
                        },
                ] as [String: Any]))
                return
            }
            Console.print("bench load: \(source.name)\(source.hasWeights ? "" : " (random weights)"), \(world.size) rank(s), tp \(tp), base \(baseQuant.resolved), \(threadCount) conversion thread(s) per rank")
            Console.print("cpu: \(BLASCoreSelection.cpuModelName())")
            func mb(_ bytes: Double) -> String { String(format: "%.0f MB", bytes / 1e6) }
            Console.print(Console.table(
                header: ["rank", "seconds", "read from disk", "RSS before", "peak RSS", "RSS after", "base held", "load peak", "held + bound", "within"],
                rows: perRank.enumerated().map { r, v in
                    let growth = v[2] - v[1], limit = v[4] + v[5]
                    return [String(r), String(format: "%.1f", v[0]), mb(v[6]), mb(v[1]), mb(v[2]), mb(v[3]), mb(v[4]),
                            mb(growth), mb(limit), growth <= limit ? "yes" : "NO"]
                }))
            Console.print("read from disk: page-cache misses only (0 when the file is cached)")
            Console.print("load peak = peak RSS − RSS before; bound = one layer's slices as stored + a tile per thread + the layer's absmax (`tessera bench load --help`)")
        }
    }

    /// Bytes a rank's load may hold beyond what it keeps: its slices of one layer's seven
    /// matrices as stored (whole pages; a column slice touches a page more per row at most, and
    /// is copied out of the mapping), one fp32 tile per conversion thread, and the layer's block
    /// statistics twice (this rank's plain absmax and the group's gathered copy).
    static func workingSetBound(source: ModelSource, config: LlamaConfig, shard: LlamaShard, threads: Int) throws -> Int {
        let page = 4096
        var storedBytesPerParameter = 4.0   // random weights are generated as fp32 tiles
        if source.hasWeights {
            let summary = try source.summary()
            storedBytesPerParameter = Double(summary.linearStoredBytes) / Double(max(summary.linearParameterCount, 1))
        }
        let c = config.hiddenSize
        let fullColumns = [c, c, c, config.queryWidth, c, c, config.intermediateSize]
        let fullRows = [config.queryWidth, config.keyValueWidth, config.keyValueWidth, c,
                        config.intermediateSize, config.intermediateSize, c]
        var slices = 0, layerParameters = 0, widestRow = 0
        for i in 0..<7 {
            let (rows, columns) = LlamaWeights.sliceRanges(i, shard, config)
            let rowBytes = Int((Double(columns.count) * storedBytesPerParameter).rounded(.up))
            if columns.count < fullColumns[i] {
                slices += rows.count * (((rowBytes + page - 1) / page + 1) * page + rowBytes)
            } else {
                slices += rows.count * rowBytes + 2 * page
            }
            layerParameters += fullRows[i] * fullColumns[i]
            widestRow = max(widestRow, columns.count)
        }
        let tiles = threads * max(FrozenMatrix.tileFloats, 64 * widestRow) * 4
        let absmax = 2 * (layerParameters / 64) * 4
        return slices + tiles + absmax
    }
}
