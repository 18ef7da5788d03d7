import Testing
import LlamaModel
import ModelIO
@testable import LoRA

@Suite struct LoRATargetTests {
    @Test func qvOnSmolLM2() throws {
        let targets = try LoRAConfig(r: 8, targetModules: .names(["q_proj", "v_proj"])).targets(for: smolLM2)
        #expect(targets.count == 60)
        #expect(targets[0] == LoRATarget(layer: 0, module: .qProj, inFeatures: 576, outFeatures: 576))
        #expect(targets[1] == LoRATarget(layer: 0, module: .vProj, inFeatures: 576, outFeatures: 192))
        #expect(targets[1].fullName == "model.layers.0.self_attn.v_proj")
        #expect(targets[59].loraAName == "base_model.model.model.layers.29.self_attn.v_proj.lora_A.weight")
        #expect(targets[59].loraBName == "base_model.model.model.layers.29.self_attn.v_proj.lora_B.weight")
    }

    /// Phi-3 fuses q/k/v (qkv_proj) and gate/up (gate_up_proj): those are PEFT's names there, a
    /// part's name is refused with the module to target instead, and the default list (q_proj,
    /// v_proj) becomes PEFT's phi3 default, qkv_proj, in the adapter's own config too.
    @Test func fusedModulesOfPhi3() throws {
        let phi3 = LlamaConfig(architecture: .phi3, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                               numAttentionHeads: 4, numKeyValueHeads: 2, vocabSize: 10)
        let targets = try LoRAConfig(targetModules: .names(["qkv_proj"])).targets(for: phi3)
        #expect(targets.map(\.module) == [.qProj, .kProj, .vProj, .qProj, .kProj, .vProj])
        #expect(targets.allSatisfy { $0.fused == .qkv && $0.fullName.hasSuffix("self_attn.qkv_proj") })
        #expect(targets.map(\.sharesA) == [false, true, true, false, true, true])
        #expect(targets.map { $0.parameterCount(rank: 2) } == [2 * (16 + 16), 2 * 8, 2 * 8, 2 * (16 + 16), 2 * 8, 2 * 8])
        #expect(try LoRAConfig(targetModules: .allLinear).targets(for: phi3).count == 2 * 7)
        #expect(throws: LoRAError.invalidConfig("target module 'up_proj' is not a module of this model (2 layers; valid names: qkv_proj, o_proj, gate_up_proj, down_proj; phi3 stores up_proj inside gate_up_proj, target that)")) {
            try LoRAConfig(targetModules: .names(["up_proj"])).targets(for: phi3)
        }
        let byDefault = try LoRAAdapter(config: LoRAConfig(targetModules: .names(LoRAConfig.defaultLlamaTargets)), model: phi3, seed: 1)
        #expect(byDefault.config.targetModules == .names(["qkv_proj"]) && byDefault.targets.count == 6)
        #expect(byDefault.peftTensors().map(\.shape) == [[8, 16], [32, 8], [8, 16], [32, 8]])   // A [r, C], B [(H + 2G)·D, r]
        // Not fused elsewhere: the same list stays itself.
        #expect(LoRAConfig(targetModules: .names(["q_proj", "v_proj"])).resolved(for: tinyModel).targetModules == .names(["q_proj", "v_proj"]))
    }

    @Test func allLinearShapesAndOrder() throws {
        let targets = try LoRAConfig(targetModules: .allLinear).targets(for: tinyModel)
        #expect(targets.count == 3 * 7)
        let layer1 = targets.filter { $0.layer == 1 }
        #expect(layer1.map(\.module) == LinearModule.allCases)
        // C 16, F 24, H·D 16, G·D 8.
        #expect(layer1.map { [$0.inFeatures, $0.outFeatures] } == [[16, 16], [16, 8], [16, 8], [16, 16], [16, 24], [16, 24], [24, 16]])
        #expect(layer1[6].fullName == "model.layers.1.mlp.down_proj")
    }

    @Test func explicitHeadDimChangesAttentionWidths() throws {
        let model = LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 4,
                                numKeyValueHeads: 2, headDim: 6, vocabSize: 10)
        let targets = try LoRAConfig(targetModules: .names(["q_proj", "k_proj", "o_proj"])).targets(for: model)
        #expect(targets.map { [$0.inFeatures, $0.outFeatures] } == [[16, 24], [16, 12], [24, 16]])
    }

    @Test func suffixRuleAndLayerFilter() throws {
        let config = LoRAConfig(targetModules: .names(["mlp.up_proj", "o_proj"]), layersToTransform: [0, 2])
        let targets = try config.targets(for: tinyModel)
        #expect(targets.map { "\($0.layer).\($0.module.rawValue)" } == ["0.o_proj", "0.up_proj", "2.o_proj", "2.up_proj"])
        // An exact full name bypasses layers_to_transform, as in PEFT.
        let exact = LoRAConfig(targetModules: .names(["model.layers.1.self_attn.k_proj", "q_proj"]), layersToTransform: [2])
        #expect(try exact.targets(for: tinyModel).map(\.fullName) == ["model.layers.1.self_attn.k_proj", "model.layers.2.self_attn.q_proj"])
    }

    @Test func regexIsFullMatch() throws {
        let config = LoRAConfig(targetModules: .regex(#"model\.layers\.[01]\.(self_attn\.(q|v)|mlp\.gate)_proj"#))
        #expect(try config.targets(for: tinyModel).map(\.fullName) == [
            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.0.mlp.gate_proj",
            "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.gate_proj",
        ])
        // A partial match is not enough.
        let partial = LoRAConfig(targetModules: .regex("q_proj"))
        #expect(loraErrorMessage { _ = try partial.targets(for: tinyModel) }.contains("matches no module of this model"))
    }

    @Test func errorsNameTheModuleOrLayer() {
        let missingLayer = LoRAConfig(targetModules: .names(["q_proj"]), layersToTransform: [1, 3])
        #expect(loraErrorMessage { _ = try missingLayer.targets(for: tinyModel) }
            == "invalid LoRA config: layers_to_transform contains layer 3, but the model has 3 layers (0...2)")
        let wrongPath = LoRAConfig(targetModules: .names(["mlp.q_proj"]))
        #expect(loraErrorMessage { _ = try wrongPath.targets(for: tinyModel) }.contains("target module 'mlp.q_proj' is not a module of this model"))
        let unknown = LoRAConfig(targetModules: .names(["query"]))
        #expect(loraErrorMessage { _ = try unknown.targets(for: tinyModel) }.contains("target module 'query' is not a linear module of a Llama layer; valid names: q_proj, k_proj"))
        let badRank = LoRAConfig(r: 0, targetModules: .allLinear)
        #expect(loraErrorMessage { _ = try badRank.targets(for: tinyModel) } == "invalid LoRA config: r must be a positive integer, got 0")
    }
}
