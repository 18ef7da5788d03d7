import Foundation
import Testing
@testable import Parallelism
import LlamaModel
import ModelIO
import TestSupport

/// `CapacityPlanner` against hand-computed byte counts (NF4 + DQ per matrix: n/2 codes + one byte
/// per 64-block + 4 bytes per 256 blocks + 4), the fit verdict, and `tessera plan --json`.
@Suite struct CapacityPlanTests {
    let smol = ModelPreset.named("smollm2-135m")!.config
    let llama70 = ModelPreset.named("llama2-70b")!.config
    let cost = CostModel(gflopsPerCore: 100)

    func job(_ config: LlamaConfig, batch: Int = 32, micro: Int = 1) -> PlannedJob {
        PlannedJob(globalBatchSize: batch, seqLen: 2048, loraRank: 16,
                   targets: PlannedJob.targets([.qProj, .vProj], in: config), microBatchSize: micro)
    }

    /// 4 nodes × 8 ranks × 4 cores, 25 Gb/s.
    func cluster(memoryGB: Double = 256) -> ClusterSpec {
        ClusterSpec(nodes: 4, ranksPerNode: 8, coresPerRank: 4, memoryPerNodeGB: memoryGB, networkGbps: 25,
                    latencyMicroseconds: 5)
    }

    @Test func smolLM2MemoryMatchesHandComputedBytes() throws {
        let one = ClusterSpec(nodes: 1, ranksPerNode: 1, coresPerRank: 1, memoryPerNodeGB: 16, networkGbps: 25,
                              latencyMicroseconds: 5)
        let plan = try CapacityPlanner.plan(smol, cluster: one, job: job(smol, batch: 1), cost: cost, tp: 1)
        // Per layer: q, o 576·576 → 171160; k, v 576·192 → 57056; gate, up, down 576·1536 → 456412.
        #expect(plan.memory.baseLinearBytes == Double(30 * (2 * 171_160 + 2 * 57_056 + 3 * 456_412)))  // 54,770,040
        #expect(plan.memory.baseEmbeddingBytes == Double(49152 * 576 * 2))    // tied: one bf16 table
        #expect(plan.memory.baseNormBytes == Double(61 * 576 * 4))
        // LoRA r 16 on q, v: 30 · 16 · ((576 + 576) + (576 + 192)) = 921,600 floats, 4 fp32 copies.
        #expect(plan.loraParameters == 921_600)
        #expect(plan.memory.loraBytes == Double(921_600 * 16))
        let workspace = TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 2048, maxLoRARank: 16)
        #expect(plan.memory.activationBytes == Double(workspace))
        #expect(plan.memory.totalBytes == plan.memory.baseBytes + Double(921_600 * 16 + workspace) + cost.runtimeOverheadBytes)
        #expect(abs(plan.memory.baseLinearBytes * 8 / Double(30 * 3_538_944) - 4.127) < 0.001)
    }

    @Test func llama2_70bAtTP8MatchesHandComputedBytes() throws {
        let plan = try CapacityPlanner.plan(llama70, cluster: cluster(), job: job(llama70), cost: cost, tp: 8)
        #expect(plan.dp == 4 && plan.accumulationSteps == 8)
        // One KV head (8 query heads, 1024 wide) and 3584 FFN columns per rank.
        // q, o 8192·1024 → 4,327,428; k, v 8192·128 → 540,932; gate, up, down 8192·3584 → 15,145,988.
        #expect(plan.memory.baseLinearBytes == Double(80 * (2 * 4_327_428 + 2 * 540_932 + 3 * 15_145_988)))
        #expect(plan.memory.baseEmbeddingBytes == Double(2 * 4000 * 8192 * 2))   // embedding + head, 32000 / 8 rows
        #expect(plan.memory.baseNormBytes == Double(161 * 8192 * 4))
        // q: A [16, 8192] + B [1024, 16]; v: A [16, 8192] + B [128, 16]; 80 layers, 4 fp32 copies.
        #expect(plan.memory.loraBytes == Double(80 * 16 * (8192 + 1024 + 8192 + 128) * 16))
        let shard = try ShardPlanner.plan(llama70, tp: 8)[0]
        #expect(plan.memory.activationBytes == Double(TrainingWorkspace.byteCount(
            config: llama70, shard: shard, maxTokens: 2048, maxLoRARank: 16)))
    }

    @Test func baseBytesHalveAtTP2() throws {
        // SmolLM2: the bound for tp 2 is 0.55× of tp 1 (the larger rank of an uneven split).
        for (config, tolerance) in [(smol, 0.05), (llama70, 1e-6)] {
            let one = try CapacityPlanner.plan(config, cluster: cluster(), job: job(config), cost: cost, tp: 1).memory
            let two = try CapacityPlanner.plan(config, cluster: cluster(), job: job(config), cost: cost, tp: 2).memory
            // SmolLM2's 9 query heads split 5 + 4 (both ranks hold the middle KV group's k, v) with
            // an even FFN split: the larger rank holds 0.52.
            #expect(abs(two.baseLinearBytes / one.baseLinearBytes - 0.5) < tolerance)
            #expect(abs(two.baseEmbeddingBytes / one.baseEmbeddingBytes - 0.5) < 0.001)
            #expect(two.baseNormBytes == one.baseNormBytes)   // replicated
            // The two shards together hold the single-rank linears plus the k, v rows of a shared
            // KV group (up to per-matrix rounding of the nested absmax blocks).
            let shards = try ShardPlanner.plan(config, tp: 2)
            let halves = shards.map { CapacityPlanner.baseBytes(config, shard: $0, embeddingBytesPerParameter: 2).linear }
            let sharedGroups = shards[0].kvHeads.count + shards[1].kvHeads.count - config.numKeyValueHeads
            let shared = Double(config.numHiddenLayers * 2 * sharedGroups
                * BaseQuantization.default.storedBytes(elements: config.headDim * config.hiddenSize))
            #expect(abs((halves[0] + halves[1] - shared) / one.baseLinearBytes - 1) < 1e-4)
        }
    }

    @Test func selectiveCheckpointingRecomputesQAndUp() throws {
        let one = ClusterSpec(nodes: 1, ranksPerNode: 1, coresPerRank: 1, memoryPerNodeGB: 16, networkGbps: 25,
                              latencyMicroseconds: 5)
        func flops(_ mode: ActivationCheckpointing) throws -> Double {
            var j = job(smol, batch: 1)
            j.checkpointing = mode
            return try CapacityPlanner.plan(smol, cluster: one, job: j, cost: cost, tp: 1).time.flopsPerRank
        }
        // q_proj [576, 576] with its LoRA (r 16, A 576 + B 576) and up_proj [1536, 576] (no LoRA)
        // once more per token, 30 layers, 2048 tokens.
        let perToken: Double = 576 * 576 + 16 * (576 + 576) + 1536 * 576
        let recomputed: Double = 2 * perToken * 30 * 2048
        let selective = try flops(.selective), none = try flops(.none), full = try flops(.full)
        #expect(abs(selective - none - recomputed) < 1e-6 * recomputed)
        #expect(full > selective)
    }

    @Test func scalingTableKeepsTPAndGrowsDP() throws {
        let base = cluster()   // 4 nodes × 8 ranks
        let points = CapacityPlanner.scaling(llama70, cluster: base, job: job(llama70), cost: cost, tp: 8)
        #expect(points.map(\.nodes) == [1, 2, 4, 8, 16, 32, 64])
        #expect(points.map(\.dp) == [1, 2, 4, 8, 16, 32, 64])
        // Strong: batch 32 splits up to dp 32; dp 64 is refused with the reason.
        let strong = points.map { try? $0.strong.get() }
        #expect(strong.prefix(6).allSatisfy { $0?.tokensPerStep == 32 * 2048 } && strong[6] == nil)
        // Weak: 8 sequences per model copy (32 over the requested cluster's dp 4) at every size.
        let weak = try points.map { try $0.weak.get() }
        #expect(weak.map { $0.tokensPerStep / 2048 } == [8, 16, 32, 64, 128, 256, 512])
        // More nodes never predict fewer tokens/s, and the DP allReduce keeps weak efficiency below 1.
        for (a, b) in zip(weak, weak.dropFirst()) { #expect(b.tokensPerSecond > a.tokensPerSecond) }
        #expect(weak[6].tokensPerSecond < 64 * weak[0].tokensPerSecond)
    }

    @Test func fitVerdictFlipsWhereExpected() throws {
        // 70B NF4 ≈ 36 GB/rank at tp 1: 8 ranks need ~360 GB, more than 256 GB; tp 2 needs ~210 GB.
        let big = cluster(memoryGB: 256)
        #expect(try !CapacityPlanner.plan(llama70, cluster: big, job: job(llama70), cost: cost, tp: 1).fits)
        #expect(try CapacityPlanner.plan(llama70, cluster: big, job: job(llama70), cost: cost, tp: 2).fits)
        #expect(try CapacityPlanner.smallestFitting(llama70, cluster: big, job: job(llama70), cost: cost)?.tp == 2)
        // 200 GB per node (180 GB usable): tp 2 no longer fits, tp 4 does.
        let small = cluster(memoryGB: 200)
        #expect(try CapacityPlanner.smallestFitting(llama70, cluster: small, job: job(llama70), cost: cost)?.tp == 4)
        // 32 GB per node: nothing fits.
        #expect(try CapacityPlanner.smallestFitting(llama70, cluster: cluster(memoryGB: 32), job: job(llama70), cost: cost) == nil)
    }

    @Test func meshesBeyondTheKVHeadsShareThem() throws {
        let rows = CapacityPlanner.compare(llama70, cluster: cluster(), job: job(llama70), cost: cost)
        #expect(rows.map(\.tp) == [1, 2, 4, 8, 16, 32])
        for row in rows { #expect((try? row.result.get()) != nil, "tp \(row.tp)") }
        // Past the 8 KV heads each rank still holds one KV head's k and v (held by 2 or 4 ranks).
        let kv = 8192 * 128
        for tp in [16, 32] {
            let shard = try ShardPlanner.plan(llama70, tp: tp)[0]
            #expect(shard.queryHeads.count == 64 / tp && shard.kvHeads.count == 1)
            #expect(shard.localFeatures(.kProj, llama70).outFeatures * llama70.hiddenSize == kv)
        }
        #expect(throws: ParallelismError.self) { try ShardPlanner.plan(llama70, tp: 65) }
        #expect(throws: ParallelismError.self) {
            try CapacityPlanner.plan(llama70, cluster: cluster(), job: job(llama70), cost: cost, tp: 3)
        }
    }

    @Test func stepTimeFollowsTheStatedModel() throws {
        let plan = try CapacityPlanner.plan(smol, cluster: cluster(), job: job(smol), cost: cost, tp: 1)
        // tp 1, dp 32: one 2048-token sequence per rank, no TP traffic.
        let n = 2048.0, p = Double(30 * (2 * 331_776 + 2 * 110_592 + 3 * 884_736)), head = Double(49152 * 576)
        let down = Double(30 * 884_736)   // not recomputed: the layer output is kept
        let lora = 30.0 * ((576 + 576) + (576 + 192)) * 16
        let attention = 9 * n * n * 576 * 30   // (2 fwd + 5 bwd + 2 recompute)·T²·H·D per layer
        let flops = 6 * p * n - 2 * down * n + 4 * head * n + 8 * lora * n + attention
        #expect(abs(plan.time.flopsPerRank / flops - 1) < 1e-12)
        #expect(abs(plan.time.computeSeconds - flops / (4 * 100e9 * 0.5)) < 1e-9)
        #expect(plan.time.tensorParallelSeconds == 0 && plan.time.tensorParallelAllReduces == 0)
        // DP ring over 32 ranks on 4 nodes, one ring per node's card: 62·5 µs + 62/32 · bytes / 3.125 GB/s.
        let bytes = 4 * lora
        #expect(abs(plan.time.dataParallelSeconds - (62 * 5e-6 + 62.0 / 32 * bytes / 3.125e9)) < 1e-12)
        #expect(plan.time.totalSeconds == plan.time.computeSeconds + plan.time.dataParallelSeconds)
        #expect(CapacityPlanner.ringAllReduceSeconds(bytes: 1e9, ranks: 1, latency: 1, bandwidth: 1) == 0)
    }

    @Test func tensorParallelTrafficStaysInTheNode() throws {
        let plan = try CapacityPlanner.plan(llama70, cluster: cluster(), job: job(llama70), cost: cost, tp: 8)
        // Per micro-batch of 2048 tokens: 2 + 4L + L (recompute: o_proj only) allReduces of [N, C]
        // floats plus two per loss chunk; then the partial gradA once (q and v are column-parallel).
        let rows = Llama.trainingLogitRows(tokens: 2048, vocabLocal: llama70.vocabSize / 8)
        let perMicro = 2 + 5 * 80 + 2 * ((2048 + rows - 1) / rows)
        #expect(plan.time.tensorParallelAllReduces == 8 * perMicro + 1)
        let big = CapacityPlanner.ringAllReduceSeconds(bytes: 4 * 2048 * 8192, ranks: 8, latency: 1e-6, bandwidth: 10e9)
        #expect(plan.time.tensorParallelSeconds > 8 * Double(2 + 5 * 80) * big * 0.999)
    }

    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func smolLM2BaseBytesMatchTesseraInfo() throws {
        let summary = try ModelSummary(path: ModelPath(TestPaths.defaultModel.path))
        let shard = LlamaShard.whole(summary.config)
        #expect(CapacityPlanner.baseBytes(summary.config, shard: shard, embeddingBytesPerParameter: 2).linear
                == Double(summary.linearBytes(.default)))
        // With the file's own embedding precision (Q8_0 here) the whole base equals info's NF4 base.
        let norms = (2 * 30 + 1) * 576 * 4
        let e = Double(summary.storedBytes - summary.linearStoredBytes - norms) / Double(49152 * 576)
        let base = CapacityPlanner.baseBytes(summary.config, shard: shard, embeddingBytesPerParameter: e)
        #expect(abs(base.linear + base.embedding + base.norms - Double(summary.nf4Bytes)) < 1)
    }

    /// `tessera plan --json`, run from the build directory of the test runner (`swift test` builds it).
    @Test func planJSONHasItsKeys() throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [directory, directory.deletingLastPathComponent(),
                          directory.deletingLastPathComponent().deletingLastPathComponent()]
        let binary = try #require(candidates.map { $0.appendingPathComponent("tessera") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }, "no tessera executable near \(directory.path)")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["plan", "--model", "llama2-70b", "--nodes", "4", "--ranks-per-node", "8", "--cores-per-rank", "4",
                             "--memory-per-node", "256", "--network-gbps", "25", "--gflops-per-core", "100", "--json"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["model", "config", "cluster", "job", "assumptions", "plan", "fits", "smallest_fitting_tp", "meshes"] {
            #expect(object[key] != nil, "missing key \(key)")
        }
        let plan = try #require(object["plan"] as? [String: Any])
        for key in ["tp", "dp", "memory_per_rank_bytes", "node_bytes", "node_budget_bytes", "step", "tokens_per_second", "fits"] {
            #expect(plan[key] != nil, "missing plan key \(key)")
        }
        let memory = try #require(plan["memory_per_rank_bytes"] as? [String: Any])
        for key in ["base", "base_linear", "base_embedding", "base_norms", "lora", "activations", "overhead", "total"] {
            #expect(memory[key] != nil, "missing memory key \(key)")
        }
        #expect(plan["tp"] as? Int == 2 && object["fits"] as? Bool == true)
        #expect((object["meshes"] as? [Any])?.count == 6)
    }
}
