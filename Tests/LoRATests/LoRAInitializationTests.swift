import Testing
import LlamaModel
import ModelIO
@testable import LoRA

@Suite struct LoRAInitializationTests {
    @Test func kaimingUniformBoundsAndZeroB() throws {
        let adapter = try LoRAAdapter(config: LoRAConfig(r: 4, targetModules: .allLinear), model: tinyModel, seed: 7)
        for f in adapter.factors {
            let bound = 1 / Float(f.target.inFeatures).squareRoot()
            let a = f.a.array
            #expect(a.allSatisfy { abs($0) <= bound })
            #expect(a.max()! > 0.5 * bound && a.min()! < -0.5 * bound)
            #expect(f.b.array.allSatisfy { $0 == 0 })
            #expect(f.gradA.array.allSatisfy { $0 == 0 } && f.gradB.array.allSatisfy { $0 == 0 })
        }
    }

    @Test func uniformStatisticsOnALargeFactor() throws {
        let adapter = try LoRAAdapter(config: LoRAConfig(r: 16, targetModules: .names(["down_proj"])), model: smolLM2, seed: 1)
        let a = adapter.factors[0].a.array.map(Double.init)  // 16 × 1536 values, U(−b, b)
        let bound = 1 / 1536.0.squareRoot()
        let mean = a.reduce(0, +) / Double(a.count)
        let variance = a.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(a.count)
        #expect(abs(mean) < 0.02 * bound)
        #expect(abs(variance / (bound * bound / 3) - 1) < 0.03)
    }

    @Test func gaussianHasStdOneOverR() throws {
        let config = LoRAConfig(r: 4, targetModules: .names(["gate_proj"]), initLoRAWeights: .gaussian)
        let adapter = try LoRAAdapter(config: config, model: smolLM2, seed: 3)
        let a = adapter.factors.flatMap { $0.a.array }.map(Double.init)  // 30 × 4 × 576 values
        let mean = a.reduce(0, +) / Double(a.count)
        let std = (a.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(a.count)).squareRoot()
        #expect(abs(mean) < 0.005)
        #expect(abs(std / 0.25 - 1) < 0.01)
        #expect(adapter.factors.allSatisfy { $0.b.array.allSatisfy { $0 == 0 } })
    }

    @Test func linearDefaultInitialisesBToo() throws {
        let config = LoRAConfig(r: 4, targetModules: .names(["q_proj"]), initLoRAWeights: .linearDefault)
        let adapter = try LoRAAdapter(config: config, model: tinyModel, seed: 3)
        let b = adapter.factors[0].b.array
        #expect(b.contains { $0 != 0 } && b.allSatisfy { abs($0) <= 0.5 })  // 1/√r
    }

    @Test func valuesDependOnlyOnSeedAndName() throws {
        let qv = try LoRAAdapter(config: LoRAConfig(r: 4, targetModules: .names(["q_proj", "v_proj"])), model: tinyModel, seed: 42)
        let again = try LoRAAdapter(config: LoRAConfig(r: 4, targetModules: .names(["q_proj", "v_proj"])), model: tinyModel, seed: 42)
        // Another target set and another layer filter: the shared tensors are unchanged.
        let vOnly = try LoRAAdapter(config: LoRAConfig(r: 4, targetModules: .names(["v_proj"]), layersToTransform: [2]), model: tinyModel, seed: 42)
        let otherSeed = try LoRAAdapter(config: LoRAConfig(r: 4, targetModules: .names(["q_proj", "v_proj"])), model: tinyModel, seed: 43)
        for (x, y) in zip(qv.factors, again.factors) { #expect(x.a.array == y.a.array) }
        let v2 = try #require(qv.factors(layer: 2, module: .vProj))
        #expect(try #require(vOnly.factors(layer: 2, module: .vProj)).a.array == v2.a.array)
        #expect(otherSeed.factors(layer: 2, module: .vProj)?.a.array != v2.a.array)
        // Different names give different streams, even with equal shapes.
        #expect(qv.factors(layer: 0, module: .qProj)?.a.array != qv.factors(layer: 1, module: .qProj)?.a.array)
        // Re-initialising restores the same values.
        v2.a[0] = 99
        qv.initialize(seed: 42)
        #expect(v2.a.array == vOnly.factors[0].a.array)
    }

    @Test func streamIsStableAcrossProcesses() {
        // Pinned values: a change here changes every adapter Tessera initialises.
        #expect(NamedRandomStream.fnv1a(seed: 0, name: "") == 0xA8C7_F832_281A_39C5)
        var stream = NamedRandomStream(seed: 1234, name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        let first = stream.next()
        var again = NamedRandomStream(seed: 1234, name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        #expect(again.next() == first)
        var unit = NamedRandomStream(seed: 5, name: "x")
        #expect((0..<1000).allSatisfy { _ in (0..<1).contains(unit.nextUnit()) })
    }

    @Test func zeroGradientsClearsAccumulation() throws {
        let adapter = try LoRAAdapter(config: LoRAConfig(r: 2, targetModules: .allLinear), model: tinyModel, seed: 1)
        for f in adapter.factors {
            f.gradA[0] += 1
            f.gradB[f.gradB.count - 1] += 2
        }
        adapter.zeroGradients()
        #expect(adapter.factors.allSatisfy { $0.gradA.array.allSatisfy { $0 == 0 } && $0.gradB.array.allSatisfy { $0 == 0 } })
    }
}
