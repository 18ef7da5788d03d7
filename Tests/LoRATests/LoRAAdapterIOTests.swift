import Foundation
import Testing
import LlamaModel
import ModelIO
import ModelFormats
@testable import LoRA

@Suite struct LoRAAdapterIOTests {
    @Test func loadsReferenceAdapter() throws {
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: smolLM2)
        #expect(adapter.factors.count == 60)  // 120 tensors
        #expect(adapter.rank == 8 && adapter.scaling == 2)
        let file = try SafeTensorsFile(path: referenceAdapter.appendingPathComponent("adapter_model.safetensors").path)
        #expect(file.tensors.count == 120)
        for (layer, module) in [(0, LinearModule.qProj), (17, .vProj), (29, .vProj)] {
            let f = try #require(adapter.factors(layer: layer, module: module))
            #expect(f.a.array == (try file.floats(named: f.target.loraAName)))
            #expect(f.b.array == (try file.floats(named: f.target.loraBName)))
        }
        // Spot values read independently from the raw bytes (first element of A, last of B).
        let q0 = try #require(adapter.factors(layer: 0, module: .qProj))
        let raw = try #require(file.tensor(named: q0.target.loraAName))
        let first = file.data(for: raw).loadUnaligned(as: Float.self)
        #expect(q0.a[0] == first && first != 0)
        #expect(adapter.factors.allSatisfy { $0.gradA.array.allSatisfy { $0 == 0 } })
    }

    @Test func saveLoadSaveIsByteIdentical() throws {
        let dir = try temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = LoRAConfig(r: 3, loraAlpha: 6, loraDropout: 0.05, targetModules: .names(["q_proj", "down_proj"]),
                                layersToTransform: [0, 2], initLoRAWeights: .linearDefault,
                                baseModelNameOrPath: "org/tiny-llama", inferenceMode: true)
        let adapter = try LoRAAdapter(config: config, model: tinyModel, seed: 9)
        let first = dir.appendingPathComponent("first"), second = dir.appendingPathComponent("second")
        try adapter.save(to: first)
        let loaded = try LoRAAdapter.load(from: first, model: tinyModel)
        #expect(loaded.config == config)
        #expect(loaded.targets == adapter.targets)
        for (x, y) in zip(adapter.factors, loaded.factors) {
            #expect(x.a.array == y.a.array && x.b.array == y.b.array)
        }
        try loaded.save(to: second)
        for name in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
            let a = try Data(contentsOf: first.appendingPathComponent(name))
            let b = try Data(contentsOf: second.appendingPathComponent(name))
            #expect(a == b, "\(name) differs after a round trip")
        }
        let file = try SafeTensorsFile(path: first.appendingPathComponent(LoRAAdapter.weightsFileName).path)
        #expect(file.metadata == ["format": "pt"])
        let a = try #require(file.tensor(named: "base_model.model.model.layers.2.mlp.down_proj.lora_A.weight"))
        #expect(a.dtype == .f32 && a.shape == [3, 24])
        #expect(file.tensor(named: "base_model.model.model.layers.2.mlp.down_proj.lora_B.weight")?.shape == [16, 3])
    }

    @Test func referenceRoundTripKeepsEveryByteOfTheWeights() throws {
        let dir = try temporaryDirectory("reference")
        defer { try? FileManager.default.removeItem(at: dir) }
        try LoRAAdapter.load(from: referenceAdapter, model: smolLM2).save(to: dir)
        let ours = try Data(contentsOf: dir.appendingPathComponent(LoRAAdapter.weightsFileName))
        let theirs = try Data(contentsOf: referenceAdapter.appendingPathComponent(LoRAAdapter.weightsFileName))
        #expect(ours == theirs)
    }

    @Test func refusesAdapterForAnotherModelShape() throws {
        let wider = LlamaConfig(hiddenSize: 960, intermediateSize: 2560, numHiddenLayers: 32, numAttentionHeads: 15,
                                numKeyValueHeads: 5, headDim: 64, vocabSize: 49152)
        let message = loraErrorMessage { _ = try LoRAAdapter.load(from: referenceAdapter, model: wider) }
        #expect(message.contains("tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [8, 576], expected [8, 960]"), "\(message)")
        let shallower = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 24, numAttentionHeads: 9,
                                    numKeyValueHeads: 3, vocabSize: 49152)
        let extra = loraErrorMessage { _ = try LoRAAdapter.load(from: referenceAdapter, model: shallower) }
        #expect(extra.contains("unexpected tensor 'base_model.model.model.layers.24.self_attn.q_proj.lora_A.weight'"), "\(extra)")
    }

    @Test func refusesMissingUnexpectedAndNonFloatTensors() throws {
        let dir = try temporaryDirectory("mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let adapter = try LoRAAdapter(config: LoRAConfig(r: 2, targetModules: .names(["v_proj"])), model: tinyModel, seed: 1)
        try adapter.save(to: dir)
        let weights = dir.appendingPathComponent(LoRAAdapter.weightsFileName).path

        func rewrite(_ edit: (inout SafeTensorsWriter, LoRATarget) throws -> Void) throws {
            var writer = SafeTensorsWriter(metadata: ["format": "pt"])
            for f in adapter.factors where f.target.layer > 0 {
                try writer.add(name: f.target.loraAName, shape: f.target.shapeA(rank: 2), floats: f.a.array)
                try writer.add(name: f.target.loraBName, shape: f.target.shapeB(rank: 2), floats: f.b.array)
            }
            try edit(&writer, adapter.targets[0])
            try writer.write(to: weights)
        }
        try rewrite { w, t in try w.add(name: t.loraAName, shape: [2, 16], floats: Array(repeating: 0, count: 32)) }
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }
            == "adapter does not fit the model: \(weights): missing tensor 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight' (expected F32 [8, 2])")

        try rewrite { w, t in
            try w.add(name: t.loraAName, shape: [2, 16], floats: Array(repeating: 0, count: 32))
            try w.add(name: t.loraBName, shape: [8, 2], floats: Array(repeating: 0, count: 16))
            try w.add(name: "base_model.model.lm_head.weight", shape: [1], floats: [0])
        }
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }.contains("unexpected tensor 'base_model.model.lm_head.weight' [1]"))

        try rewrite { w, t in
            try w.add(name: t.loraAName, dtype: .i32, shape: [2, 16], bytes: Array(repeating: 0, count: 128))
            try w.add(name: t.loraBName, shape: [8, 2], floats: Array(repeating: 0, count: 16))
        }
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }
            .contains("tensor 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight' has dtype I32, expected F32"))

        // BF16 weights (as PEFT saves a bf16 model's adapter) are converted.
        try rewrite { w, t in
            try w.add(name: t.loraAName, shape: [2, 16], floats: Array(repeating: 0.5, count: 32), as: .bf16)
            try w.add(name: t.loraBName, shape: [8, 2], floats: Array(repeating: -2, count: 16), as: .bf16)
        }
        let converted = try LoRAAdapter.load(from: dir, model: tinyModel)
        #expect(converted.factors[0].a.array.allSatisfy { $0 == 0.5 } && converted.factors[0].b.array.allSatisfy { $0 == -2 })
    }

    @Test func refusesBadConfigAndMissingFiles() throws {
        let dir = try temporaryDirectory("badconfig")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }.contains("cannot read"))
        try Data(#"{"peft_type": "LORA", "r": 4, "bias": "all", "target_modules": ["q_proj"]}"#.utf8)
            .write(to: dir.appendingPathComponent(LoRAAdapter.configFileName))
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }.contains("bias \"all\" is not supported"))
        try Data(#"{"peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]}"#.utf8)
            .write(to: dir.appendingPathComponent(LoRAAdapter.configFileName))
        #expect(loraErrorMessage { _ = try LoRAAdapter.load(from: dir, model: tinyModel) }.contains("cannot open \(dir.path)/adapter_model.safetensors"))
    }
}
