import Foundation
import Testing
import LlamaModel
import ModelIO
import LoRA
import Parallelism
@testable import Training

private let tiny = LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
                               numKeyValueHeads: 2, vocabSize: 37)

private func scratch(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ckpt-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A state whose moments are distinct per parameter and element.
private func state(for adapter: ShardedLoRAAdapter, step: Int) -> AdamWState {
    var names: [String] = [], m: [[Float]] = [], v: [[Float]] = []
    for (i, f) in adapter.factors.enumerated() {
        for (name, count) in [(f.target.loraAName, f.a.count), (f.target.loraBName, f.b.count)] {
            names.append(name)
            m.append((0..<count).map { Float(i * 1000 + $0) * 0.001 + Float(adapter.tpRank) })
            v.append((0..<count).map { Float($0 + 1) * 1e-7 })
        }
    }
    return AdamWState(step: step, names: names, expAvg: m, expAvgSq: v)
}

/// Publishes a checkpoint of `step` with optimizer files for every rank of `tp`.
@discardableResult
private func writeCheckpoint(_ store: CheckpointStore, step: Int, tp: Int, keepLast: Int = 3) throws -> [ShardedLoRAAdapter] {
    let full = try LoRAAdapter(config: LoRAConfig(r: 2, loraAlpha: 4, targetModules: .allLinear), model: tiny, seed: 1)
    let shards = try ShardPlanner.plan(tiny, tp: tp, columnAlignment: 4)
    let adapters = (0..<tp).map { ShardedLoRAAdapter(slicing: full, shards: shards, tpRank: $0) }
    let staging = try store.beginStaging(step: step)
    for adapter in adapters {
        try Checkpoint.writeOptimizer(state(for: adapter, step: step), adapter: adapter, tp: tp,
                                      to: staging.appendingPathComponent(Checkpoint.optimizerFileName(tpRank: adapter.tpRank, tp: tp)))
    }
    try full.save(to: staging.appendingPathComponent(Checkpoint.adapterDirectoryName))
    let s = CheckpointState(step: step, totalSteps: 10, seed: 1, adamwStep: step, learningRate: 1e-3,
                            mesh: CheckpointMesh(tp: tp, dp: 1), configIdentity: ["lr": "0.001"], modelIdentity: "tiny")
    try CheckpointStore.writeDurably(try JSONEncoder().encode(s), to: staging.appendingPathComponent(Checkpoint.stateName))
    try store.commit(step: step, keepLast: keepLast)
    return adapters
}

@Suite struct CheckpointTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces, a million 'a's.
        var hasher = SHA256()
        var left = 1_000_000
        while left > 0 { let n = min(left, 777); hasher.update([UInt8](repeating: 0x61, count: n)); left -= n }
        #expect(SHA256.hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: [1, 2]) func writeReadRoundTripsEveryRanksMoments(tp: Int) throws {
        let out = try scratch("roundtrip")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        let adapters = try writeCheckpoint(store, step: 4, tp: tp)
        let checkpoint = try #require(try store.latest())
        #expect(checkpoint.state.step == 4 && checkpoint.state.mesh == CheckpointMesh(tp: tp, dp: 1))
        for adapter in adapters {
            let expected = state(for: adapter, step: 4)
            #expect(try checkpoint.readOptimizer(adapter: adapter, names: expected.names) == expected)
        }
        let manifest: CheckpointManifest = try Checkpoint.decode(checkpoint.directory.appendingPathComponent(Checkpoint.manifestName))
        #expect(Set(manifest.files.keys) == Set(["state.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"]
            + (0..<tp).map { Checkpoint.optimizerFileName(tpRank: $0, tp: tp) }))
        let adapter = try LoRAAdapter.load(from: checkpoint.adapterDirectory, model: tiny)
        #expect(adapter.rank == 2)
    }

    @Test func aDamagedFileIsRefusedAndNamed() throws {
        let out = try scratch("corrupt")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        try writeCheckpoint(store, step: 2, tp: 1)
        let path = store.root.appendingPathComponent("step-000002/adapter/adapter_model.safetensors")
        var bytes = try Data(contentsOf: path)
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: path)
        #expect(throws: CheckpointError.self) { _ = try store.latest() }
        do { _ = try store.latest() } catch { #expect("\(error)".contains("adapter_model.safetensors") && "\(error)".contains("SHA-256")) }
    }

    @Test func resumeFallsBackPastDamagedCheckpointsAndSaysSo() throws {
        let out = try scratch("fallback")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        for step in 1...4 { try writeCheckpoint(store, step: step, tp: 2, keepLast: 4) }
        #expect(store.newestVerified().checkpoint?.state.step == 4 && store.newestVerified().rejected.isEmpty)
        #expect(store.newestVerified().fallbackNote == nil)
        // step 4: one bit flipped in the middle of an optimizer file.
        let flipped = store.root.appendingPathComponent("step-000004/" + Checkpoint.optimizerFileName(tpRank: 1, tp: 2))
        var bytes = try Data(contentsOf: flipped)
        bytes[bytes.count / 2] ^= 0x10
        try bytes.write(to: flipped)
        // step 3: the adapter truncated.
        let truncated = store.root.appendingPathComponent("step-000003/adapter/adapter_model.safetensors")
        let handle = try FileHandle(forWritingTo: truncated)
        try handle.truncate(atOffset: 100)
        try handle.close()
        let point = store.newestVerified()
        #expect(point.checkpoint?.state.step == 2)
        #expect(point.rejected.map(\.directory.lastPathComponent) == ["step-000004", "step-000003"])
        #expect("\(point.rejected[0].error)".contains("optimizer-tp1-of-2.safetensors") && "\(point.rejected[0].error)".contains("SHA-256"))
        #expect("\(point.rejected[1].error)".contains("adapter_model.safetensors") && "\(point.rejected[1].error)".contains("100 bytes"))
        let note = try #require(point.fallbackNote)
        #expect(!note.contains("\n"))
        #expect(note.hasPrefix("step-000004, step-000003 do not verify (") && note.hasSuffix("resuming from step-000002, the newest checkpoint that does"))
        // The strict reader still refuses the newest.
        #expect(throws: CheckpointError.self) { _ = try store.latest() }
    }

    @Test func aDamagedOrMissingManifestIsRejectedAndNothingVerifyingIsReported() throws {
        let out = try scratch("manifest")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        for step in 1...3 { try writeCheckpoint(store, step: step, tp: 1) }
        // step 3: the manifest truncated to half; step 2: the manifest removed; step 1: state.json's digest altered.
        let m3 = store.root.appendingPathComponent("step-000003/manifest.json")
        let text = try Data(contentsOf: m3)
        try text.prefix(text.count / 2).write(to: m3)
        try FileManager.default.removeItem(at: store.root.appendingPathComponent("step-000002/manifest.json"))
        let state1 = store.root.appendingPathComponent("step-000001/state.json")
        var bytes = try Data(contentsOf: state1)
        bytes[bytes.count - 3] ^= 0x01
        try bytes.write(to: state1)
        let point = store.newestVerified()
        #expect(point.checkpoint == nil)
        #expect(point.rejected.map(\.directory.lastPathComponent) == ["step-000003", "step-000002", "step-000001"])
        #expect("\(point.rejected[1].error)".contains("no manifest.json"))
        #expect("\(point.rejected[2].error)".contains("state.json"))
        #expect(point.fallbackNote?.hasPrefix("no checkpoint verifies: step-000003, step-000002, step-000001 do not (") == true)
    }

    @Test func keepLastRemovesTheOldestAndIgnoresStaging() throws {
        let out = try scratch("keep")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        for step in 1...5 { try writeCheckpoint(store, step: step, tp: 1, keepLast: 2) }
        #expect(store.completed().map(\.step) == [4, 5])
        // A save that died half-way is invisible and does not disturb the published ones.
        _ = try store.beginStaging(step: 6)
        #expect(store.completed().map(\.step) == [4, 5])
        #expect(try store.latest()?.state.step == 5)
        // Re-publishing a step replaces it.
        try writeCheckpoint(store, step: 5, tp: 1, keepLast: 2)
        #expect(store.completed().map(\.step) == [4, 5])
    }

    @Test func resumeChecksNameWhatDiffers() throws {
        let s = CheckpointState(step: 3, totalSteps: 6, seed: 1, adamwStep: 3, learningRate: 1e-3, mesh: CheckpointMesh(tp: 2, dp: 1),
                                configIdentity: ["lr": "0.001", "seed": "1"], modelIdentity: "model-a")
        try s.checkCompatible(configIdentity: ["lr": "0.001", "seed": "1"], modelIdentity: "model-a", tp: 2)
        #expect(throws: CheckpointError.self) { try s.checkCompatible(configIdentity: ["lr": "0.001", "seed": "1"], modelIdentity: "model-b", tp: 2) }
        do { try s.checkCompatible(configIdentity: ["lr": "0.002", "seed": "1"], modelIdentity: "model-a", tp: 2) } catch {
            #expect(error.description.contains("lr: checkpoint 0.001, now 0.002"))
        }
        do { try s.checkCompatible(configIdentity: ["lr": "0.001", "seed": "1"], modelIdentity: "model-a", tp: 1) } catch {
            #expect(error.description.contains("--tp 2"))
        }
    }

    @Test func anotherTensorParallelSliceIsRefused() throws {
        let out = try scratch("slices")
        defer { try? FileManager.default.removeItem(at: out) }
        let store = CheckpointStore(outputDirectory: out)
        let tp2 = try writeCheckpoint(store, step: 1, tp: 2)
        let checkpoint = try #require(try store.latest())
        let full = try LoRAAdapter(config: LoRAConfig(r: 2, loraAlpha: 4, targetModules: .allLinear), model: tiny, seed: 1)
        let whole = ShardedLoRAAdapter(slicing: full, shards: try ShardPlanner.plan(tiny, tp: 1, columnAlignment: 4), tpRank: 0)
        #expect(throws: CheckpointError.self) { _ = try checkpoint.readOptimizer(adapter: whole, names: state(for: tp2[0], step: 1).names) }
    }
}
