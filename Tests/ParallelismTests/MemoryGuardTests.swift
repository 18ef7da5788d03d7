import Testing
@testable import Parallelism
import LlamaModel
import ModelIO

/// `HostMemory.probe` on faked /proc and cgroup files, and `MemoryGuard`'s verdict and remedy
/// against fake limits (no real memory is read).
@Suite struct MemoryGuardTests {
    /// A reader over a fixed set of files.
    func files(_ contents: [String: String]) -> (String) -> String? { { contents[$0] } }

    static let meminfo16GB = "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   16000000 kB\n"

    @Test func cgroupV2LimitOnAnAncestorBindsWhenBelowMemAvailable() throws {
        let host = try #require(try HostMemory.probe(environment: [:], readFile: files([
            "/proc/self/cgroup": "0::/user.slice/job-1\n",
            "/sys/fs/cgroup/user.slice/job-1/memory.max": "max\n",
            "/sys/fs/cgroup/user.slice/memory.max": "8000000000\n",
            "/proc/meminfo": Self.meminfo16GB,
        ])))
        #expect(host.bytes == 8_000_000_000)
        #expect(host.source == .cgroupLimit("/sys/fs/cgroup/user.slice/memory.max"))
        #expect(host.description == "cgroup limit")
    }

    @Test func unlimitedCgroupV1FallsBackToMemAvailable() throws {
        let host = try #require(try HostMemory.probe(environment: [:], readFile: files([
            "/proc/self/cgroup": "4:memory:/process_api/abc\n0::/\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
            "/sys/fs/cgroup/memory.max": "max\n",
            "/proc/meminfo": Self.meminfo16GB,
        ])))
        #expect(host.bytes == 16_000_000 * 1024)
        #expect(host.source == .memAvailable)
    }

    @Test func memAvailableBindsWhenBelowTheCgroupLimit() throws {
        let host = try #require(try HostMemory.probe(environment: [:], readFile: files([
            "/proc/self/cgroup": "7:memory,hugetlb:/a\n",
            "/sys/fs/cgroup/memory/a/memory.limit_in_bytes": "64000000000\n",
            "/proc/meminfo": Self.meminfo16GB,
        ])))
        #expect(host.source == .memAvailable)
    }

    @Test func theOverrideWinsAndMustBeBytes() throws {
        let host = try HostMemory.probe(environment: ["TESSERA_MEMORY_LIMIT_BYTES": "123456789"], readFile: files([
            "/proc/meminfo": Self.meminfo16GB,
        ]))
        #expect(host == HostMemory(bytes: 123_456_789, source: .environmentOverride))
        #expect(throws: MemoryGuardError.invalidOverride(variable: "TESSERA_MEMORY_LIMIT_BYTES", value: "8G")) {
            try HostMemory.probe(environment: ["TESSERA_MEMORY_LIMIT_BYTES": "8G"], readFile: files([:]))
        }
    }

    @Test func nothingReadableIsNoFigure() throws {
        #expect(try HostMemory.probe(environment: [:], readFile: files([:])) == nil)
    }

    // Llama-2-7B, 4 ranks on one host, global batch 8 × 2048 tokens, r 16 on q and v.
    let llama7 = ModelPreset.named("llama2-7b")!.config

    func memoryGuard(tp: Int = 1, micro: Int? = 2, ranks: Int = 4) -> MemoryGuard {
        MemoryGuard(config: llama7,
                    job: PlannedJob(globalBatchSize: 8, seqLen: 2048, loraRank: 16,
                                    targets: PlannedJob.targets([.qProj, .vProj], in: llama7), microBatchSize: micro),
                    tp: tp, worldSize: ranks, ranksOnHost: ranks, embeddingBytesPerParameter: 2,
                    baseQuantization: .default)
    }

    @Test func aJobWithinTheShareFitsWithThePlannersEstimate() throws {
        let g = memoryGuard()
        let estimate = try g.estimate(tp: 1, microBatchSize: 2)
        // The same formula as `tessera plan` (CapacityPlanner), not a second one.
        let plan = try CapacityPlanner.plan(llama7, cluster: ClusterSpec(nodes: 1, ranksPerNode: 4, coresPerRank: 1,
                                                                        memoryPerNodeGB: 1, networkGbps: 1,
                                                                        latencyMicroseconds: 0),
                                            job: g.job, cost: CostModel(gflopsPerCore: 1), tp: 1)
        #expect(estimate == plan.memory)
        let host = HostMemory(bytes: UInt64(4 * estimate.totalBytes) + 4, source: .memAvailable)
        let verdict = try g.check(host)
        #expect(verdict.fits)
        #expect(verdict.budgetPerRankBytes >= estimate.totalBytes)
    }

    @Test func aJobOverTheShareIsRefusedWithTheNearestSettingsThatFit() throws {
        let g = memoryGuard()
        let full = try g.estimate(tp: 1, microBatchSize: 2).totalBytes
        let micro1 = try g.estimate(tp: 1, microBatchSize: 1).totalBytes
        let tp2 = try g.estimate(tp: 2, microBatchSize: 2).totalBytes
        #expect(micro1 < full && tp2 < full)
        // A share just below the estimate: both smaller settings fit.
        let budget = full - 1
        #expect(micro1 <= budget && tp2 <= budget)
        let host = HostMemory(bytes: UInt64(4 * budget), source: .cgroupLimit("/sys/fs/cgroup/memory.max"))
        do {
            _ = try g.check(host)
            Issue.record("a job over its share was not refused")
        } catch {
            guard case let .doesNotFit(needed, refusedHost, ranks, remedy) = error else {
                Issue.record("unexpected error \(error)"); return
            }
            #expect(needed == full && refusedHost == host && ranks == 4)
            #expect(remedy == MemoryGuardError.Remedy(tp: 2, microBatchSize: 1))
            let line = error.description
            #expect(!line.contains("\n"))
            #expect(line.hasPrefix("the job needs about "))
            #expect(line.contains("per rank, but 4 ranks on this host share "))
            #expect(line.contains("(cgroup limit) = "))
            #expect(line.hasSuffix("each; use --tp 2 or --micro-batch-size 1, or --force to try anyway"))
        }
    }

    @Test func onlyTheCombinationFitsOrNothingDoes() throws {
        let g = memoryGuard()
        let both = try g.estimate(tp: 2, microBatchSize: 1).totalBytes
        let tp2 = try g.estimate(tp: 2, microBatchSize: 2).totalBytes
        let micro1 = try g.estimate(tp: 1, microBatchSize: 1).totalBytes
        let tp4 = try g.estimate(tp: 4, microBatchSize: 2).totalBytes
        // Between tp 2 + micro 1 and everything else that is one step away (tp 4 may fit alone).
        let budget = both
        if tp4 > budget, tp2 > budget, micro1 > budget {
            #expect(g.remedy(budget: budget) == .init(tp: 2, microBatchSize: 1, combined: true))
        } else {
            #expect(g.remedy(budget: budget).tp != nil)
        }
        // Nothing fits below the smallest rank of the largest mesh.
        let least = try g.estimate(tp: 4, microBatchSize: 1).totalBytes
        #expect(g.remedy(budget: least / 2) == .init())
        let line = MemoryGuardError.doesNotFit(neededBytes: 9.8e9, host: HostMemory(bytes: 5_600_000_000, source: .memAvailable),
                                               ranksOnHost: 1, remedy: .init()).description
        #expect(line == "the job needs about 9.8 GB per rank, but this host has 5.6 GB (MemAvailable); no tp of these ranks and no micro-batch size fits: run fewer ranks per host or shorter sequences, or --force to try anyway")
    }

    @Test func aJobTheTrainerRefusesIsNotEstimated() throws {
        // Batch 8 does not split over dp 3.
        let g = MemoryGuard(config: llama7,
                            job: PlannedJob(globalBatchSize: 8, seqLen: 2048, loraRank: 16,
                                            targets: PlannedJob.targets([.qProj], in: llama7)),
                            tp: 1, worldSize: 3, ranksOnHost: 3, embeddingBytesPerParameter: 2, baseQuantization: .default)
        do {
            _ = try g.check(HostMemory(bytes: 1, source: .memAvailable))
            Issue.record("an unsplittable batch was estimated")
        } catch {
            guard case .cannotEstimate = error else { Issue.record("unexpected error \(error)"); return }
        }
    }

    @Test func theBaseQuantizationChangesTheBaseBytes() throws {
        var g = memoryGuard()
        let nf4 = try g.estimate(tp: 1, microBatchSize: 1)
        g = MemoryGuard(config: llama7, job: g.job, tp: 1, worldSize: 4, ranksOnHost: 4, embeddingBytesPerParameter: 2,
                        baseQuantization: .none)
        let fp32 = try g.estimate(tp: 1, microBatchSize: 1)
        // fp32 holds 4 bytes per linear parameter, NF4 + DQ about 4.127 bits.
        #expect(abs(fp32.baseLinearBytes / nf4.baseLinearBytes - 32 / 4.127) < 0.05)
    }
}
