import Foundation
import Testing
@testable import LlamaModel
@testable import ModelIO
import ModelFormats

/// The family lookup, the traits the config reads, the tensor-name tables and the refusal of
/// traits not supported yet (Architecture.swift, docs/architecture.md §7.1).
@Suite struct ArchitectureTests {
    private func decode(_ json: String) throws -> LlamaConfig {
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        try config.validate()
        return config
    }

    private func hfConfig(_ extra: String) -> String {
        """
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
         "vocab_size": 10\(extra.isEmpty ? "" : ", " + extra)}
        """
    }

    @Test func huggingFaceModelTypeLookup() throws {
        #expect(try Architecture.huggingFace(modelType: "llama") == .llama)
        #expect(try Architecture.huggingFace(modelType: "mistral") == .mistral)
        #expect(try Architecture.huggingFace(modelType: "qwen2") == .qwen2)
        #expect(try Architecture.huggingFace(modelType: "qwen3") == .qwen3)
        #expect(try Architecture.huggingFace(modelType: nil) == .llama)
        #expect(try decode(hfConfig("")).architecture == .llama)
        #expect(try Architecture.huggingFace(modelType: "gemma3_text") == .gemma3)
        // The multimodal Gemma 3 checkpoints (4B+) nest their text model's config.
        #expect(throws: LlamaModelError.invalidConfig("model_type 'gemma3' is not supported (llama, mistral, qwen2, qwen3, gemma3_text, phi3)")) {
            try decode(hfConfig(#""model_type": "gemma3""#))
        }
    }

    @Test func ggufArchitectureLookup() throws {
        #expect(try Architecture.gguf(architecture: "llama") == .llama)
        #expect(try Architecture.gguf(architecture: "qwen2") == .qwen2)
        #expect(try Architecture.gguf(architecture: "qwen3") == .qwen3)
        #expect(try Architecture.gguf(architecture: nil) == .llama)
        #expect(try Architecture.gguf(architecture: "gemma3") == .gemma3)
        let metadata: [String: GGUFValue] = [
            "general.architecture": .string("gemma2"), "gemma2.embedding_length": .uint32(64),
        ]
        #expect(throws: LlamaModelError.invalidConfig("GGUF general.architecture 'gemma2' is not supported (llama, qwen2, qwen3, gemma3, phi3)")) {
            try LlamaConfig(ggufMetadata: metadata, hasOutputWeight: true)
        }
        // llama.cpp writes Mistral as `llama`; such a file loads as the llama family.
        #expect(Architecture.mistral.ggufArchitecture == "llama" && Architecture.mistral.ggufPermutesQK)
        #expect(Architecture.qwen2.ggufArchitecture == "qwen2" && !Architecture.qwen2.ggufPermutesQK)
        #expect(Architecture.qwen3.ggufArchitecture == "qwen3" && !Architecture.qwen3.ggufPermutesQK)
    }

    @Test func traitsDecideTheKeysRead() throws {
        // attention_bias: read for llama/mistral, implied for qwen2.
        #expect(try decode(hfConfig(#""attention_bias": true"#)).attentionBias)
        #expect(try decode(hfConfig(#""model_type": "qwen2""#)).attentionBias)
        // sliding_window: ignored for llama, read for mistral, read for qwen2 only when enabled.
        #expect(try decode(hfConfig(#""sliding_window": 32"#)).slidingWindow == nil)
        let mistral = try decode(hfConfig(#""model_type": "mistral", "sliding_window": 32"#))
        #expect(mistral.architecture == .mistral && mistral.slidingWindow == 32)
        #expect(try decode(hfConfig(#""model_type": "qwen2", "sliding_window": 32"#)).slidingWindow == nil)
        #expect(try decode(hfConfig(#""model_type": "qwen2", "sliding_window": 32, "use_sliding_window": true"#)).slidingWindow == 32)
        // qwen3: q/k norm, no biases unless attention_bias, head_dim apart from hidden / heads.
        let qwen3 = try decode(hfConfig(#""model_type": "qwen3", "head_dim": 32"#))
        #expect(qwen3.architecture.qkNorm == .rmsPerHead && !qwen3.attentionBias && qwen3.queryWidth == 128)
        #expect(try decode(hfConfig(#""model_type": "qwen3", "attention_bias": true"#)).attentionBias)
        #expect(throws: LlamaModelError.invalidConfig("hidden_act 'gelu_pytorch_tanh' is not supported (silu)")) {
            try decode(hfConfig(#""hidden_act": "gelu_pytorch_tanh""#))
        }
        // Encoding writes what the family reads back.
        let again = try JSONDecoder().decode(LlamaConfig.self, from: JSONEncoder().encode(mistral))
        #expect(again == mistral)
        let exported = try JSONSerialization.jsonObject(with: mistral.huggingFaceConfigJSON(torchDType: "float32")) as? [String: Any]
        #expect(exported?["architectures"] as? [String] == ["MistralForCausalLM"] && exported?["model_type"] as? String == "mistral")
    }

    @Test func tensorNamesMatchTheFiles() throws {
        let names = Architecture.llamaTensorNames
        let expected: [(Architecture.TensorRole, Int?, String, String)] = [
            (.embedding, nil, "token_embd.weight", "model.embed_tokens.weight"),
            (.outputNorm, nil, "output_norm.weight", "model.norm.weight"),
            (.output, nil, "output.weight", "lm_head.weight"),
            (.ropeFrequencies, nil, "rope_freqs.weight", "rope_freqs.weight"),
            (.attentionNorm, 3, "blk.3.attn_norm.weight", "model.layers.3.input_layernorm.weight"),
            (.q, 3, "blk.3.attn_q.weight", "model.layers.3.self_attn.q_proj.weight"),
            (.k, 3, "blk.3.attn_k.weight", "model.layers.3.self_attn.k_proj.weight"),
            (.v, 3, "blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
            (.o, 3, "blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"),
            (.qBias, 3, "blk.3.attn_q.bias", "model.layers.3.self_attn.q_proj.bias"),
            (.kBias, 3, "blk.3.attn_k.bias", "model.layers.3.self_attn.k_proj.bias"),
            (.vBias, 3, "blk.3.attn_v.bias", "model.layers.3.self_attn.v_proj.bias"),
            (.qNorm, 3, "blk.3.attn_q_norm.weight", "model.layers.3.self_attn.q_norm.weight"),
            (.kNorm, 3, "blk.3.attn_k_norm.weight", "model.layers.3.self_attn.k_norm.weight"),
            (.ffnNorm, 3, "blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight"),
            (.gate, 3, "blk.3.ffn_gate.weight", "model.layers.3.mlp.gate_proj.weight"),
            (.up, 3, "blk.3.ffn_up.weight", "model.layers.3.mlp.up_proj.weight"),
            (.down, 3, "blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"),
        ]
        for (role, layer, gguf, hf) in expected {
            #expect(try names.name(role, layer: layer, format: .gguf) == gguf)
            #expect(try names.name(role, layer: layer, format: .huggingFace) == hf)
        }
        #expect(Set(expected.map(\.0)) == Set(Architecture.TensorRole.allCases).subtracting([.postAttentionNorm, .postFFNNorm, .qkv, .gateUp, .ropeFactorsShort, .ropeFactorsLong]),
                "every role but the sandwich norms and Phi-3's has its names")
        // A per-layer name needs its layer: asking without one is an error, not a guess.
        #expect(throws: LlamaModelError.invalidConfig("tensor qNorm needs a layer index")) {
            try names.name(.qNorm, format: .gguf)
        }
        for family in Architecture.known {
            #expect(family.tensorNames == names || family.layerNorms == .sandwich || family.fusedProjections, "\(family)")
            #expect(family.unsupportedTraits.isEmpty, "\(family)")
        }
        // Gemma: four norms, the one before the MLP named pre_feedforward_layernorm.
        let gemma = Architecture.gemma3.tensorNames
        #expect(try gemma.name(.ffnNorm, layer: 2, format: .huggingFace) == "model.layers.2.pre_feedforward_layernorm.weight")
        #expect(try gemma.name(.postAttentionNorm, layer: 2, format: .huggingFace) == "model.layers.2.post_attention_layernorm.weight")
        #expect(try gemma.name(.postFFNNorm, layer: 2, format: .huggingFace) == "model.layers.2.post_feedforward_layernorm.weight")
        #expect(try gemma.name(.postAttentionNorm, layer: 2, format: .gguf) == "blk.2.post_attention_norm.weight")
        #expect(try gemma.name(.postFFNNorm, layer: 2, format: .gguf) == "blk.2.post_ffw_norm.weight")
        // Phi-3: fused q/k/v and gate/up, and no separate names for their parts.
        let phi3 = Architecture.phi3.tensorNames
        #expect(try phi3.name(.qkv, layer: 1, format: .huggingFace) == "model.layers.1.self_attn.qkv_proj.weight")
        #expect(try phi3.name(.qkv, layer: 1, format: .gguf) == "blk.1.attn_qkv.weight")
        #expect(try phi3.name(.gateUp, layer: 1, format: .huggingFace) == "model.layers.1.mlp.gate_up_proj.weight")
        #expect(try phi3.name(.gateUp, layer: 1, format: .gguf) == "blk.1.ffn_up.weight")
        #expect(try phi3.name(.ropeFactorsLong, format: .gguf) == "rope_factors_long.weight")
        #expect(throws: LlamaModelError.self) { try phi3.name(.q, layer: 1, format: .huggingFace) }
    }

    @Test func unsupportedTraitsAreRefusedAtValidation() throws {
        var partial = Architecture.qwen3
        partial.modelType = "qwen3-layernorm"
        partial.norm.kind = .layerNorm
        var config = LlamaConfig(architecture: partial, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 1,
                                 numAttentionHeads: 4, vocabSize: 10)
        #expect(throws: LlamaModelError.invalidConfig("model_type 'qwen3-layernorm' needs LayerNorm norms, not supported yet")) {
            try config.validate()
        }
        var gemma2 = Architecture.gemma3
        gemma2.modelType = "gemma2"
        gemma2.norm.weightOffset = 2
        gemma2.attentionSoftcap = .tanh
        gemma2.finalLogitSoftcap = .tanh
        config.architecture = gemma2
        #expect(throws: LlamaModelError.invalidConfig(
            "model_type 'gemma2' needs RMSNorm weights applied as 2.0+w, attention logit soft-capping, "
            + "final logit soft-capping, not supported yet")) {
            try config.validate()
        }
        let geglu = partial
        // A model cannot be built around such a config either.
        let weights = try tinyLlama().weights
        config.architecture = geglu
        #expect(throws: LlamaModelError.self) { try Llama(config: config, weights: weights) }
    }
}
