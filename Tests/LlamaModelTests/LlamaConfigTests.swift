import Foundation
import Testing
@testable import LlamaModel
@testable import ModelIO
import ModelFormats

@Suite struct LlamaConfigTests {
    private func decode(_ json: String) throws -> LlamaConfig {
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        try config.validate()
        return config
    }

    @Test func decodesSmolLM2TransformersFiveConfig() throws {
        let c = try decode("""
        {"model_type": "llama", "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
         "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
         "hidden_act": "silu", "max_position_embeddings": 8192, "rms_norm_eps": 1e-05,
         "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": true,
         "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"},
         "attention_bias": false, "mlp_bias": false, "head_dim": 64}
        """)
        #expect(c.headDim == 64 && c.numKeyValueHeads == 3 && c.ropeTheta == 100_000 && c.ropeScaling == nil)
        #expect(c.tieWordEmbeddings && c.eosTokenIds == [2] && c.bosTokenId == 1 && !c.attentionBias)
        #expect(c.queryWidth == 576 && c.keyValueWidth == 192)
    }

    @Test func decodesLlama3ScalingAndEosList() throws {
        let c = try decode("""
        {"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
         "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "rope_theta": 500000.0,
         "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                          "original_max_position_embeddings": 8192, "rope_type": "llama3"},
         "eos_token_id": [128001, 128008, 128009], "max_position_embeddings": 131072, "rms_norm_eps": 1e-05}
        """)
        #expect(c.ropeScaling == .init(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        #expect(c.eosTokenIds == [128001, 128008, 128009])
        #expect(c.headDim == 64 && !c.tieWordEmbeddings)
        // Round trip through the HF keys.
        let again = try JSONDecoder().decode(LlamaConfig.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func qwen2HasAttentionBias() throws {
        let c = try decode("""
        {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
         "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rope_theta": 1000000.0,
         "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": true}
        """)
        #expect(c.attentionBias && c.slidingWindow == nil && c.headDim == 64)
    }

    @Test func unsupportedRopeScalingIsAClearError() {
        #expect(throws: LlamaModelError.invalidConfig("rope_scaling type 'yarn' is not supported (only llama3 or none)")) {
            try decode("""
            {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
             "vocab_size": 10, "rope_scaling": {"type": "yarn", "factor": 4.0}}
            """)
        }
    }

    @Test func validationNamesTheField() {
        var c = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                            numKeyValueHeads: 4, vocabSize: 100)
        #expect(throws: LlamaModelError.invalidConfig("num_attention_heads 9 is not a multiple of num_key_value_heads 4")) {
            try c.validate()
        }
        c.numKeyValueHeads = 3
        c.hiddenSize = 577
        #expect(throws: LlamaModelError.invalidConfig("hidden_size 577 is not a multiple of num_attention_heads 9 (and head_dim is not given)")) {
            try c.validate()
        }
        c.explicitHeadDim = 64  // an explicit head_dim lifts the divisibility rule
        #expect(throws: Never.self) { try c.validate() }
        c.intermediateSize = 0
        #expect(throws: LlamaModelError.invalidConfig("intermediate_size must be positive, got 0")) { try c.validate() }
    }

    @Test func ggufMetadataKeys() throws {
        let metadata: [String: GGUFValue] = [
            "general.architecture": .string("llama"),
            "llama.embedding_length": .uint32(576), "llama.feed_forward_length": .uint32(1536),
            "llama.block_count": .uint32(30), "llama.attention.head_count": .uint32(9),
            "llama.attention.head_count_kv": .uint32(3), "llama.attention.layer_norm_rms_epsilon": .float32(1e-5),
            "llama.rope.freq_base": .float32(100_000), "llama.context_length": .uint32(8192),
            "tokenizer.ggml.tokens": .array([.string("a"), .string("b"), .string("c")]),
            "tokenizer.ggml.bos_token_id": .uint32(1), "tokenizer.ggml.eos_token_id": .uint32(2),
        ]
        let c = try LlamaConfig(ggufMetadata: metadata, hasOutputWeight: false)
        #expect(c.vocabSize == 3 && c.headDim == 64 && c.tieWordEmbeddings && c.maxPositionEmbeddings == 8192)
        var missing = metadata
        missing["llama.block_count"] = nil
        #expect(throws: LlamaModelError.invalidConfig("GGUF metadata key 'llama.block_count' is missing or not an integer")) {
            try LlamaConfig(ggufMetadata: missing, hasOutputWeight: true)
        }
    }
}
