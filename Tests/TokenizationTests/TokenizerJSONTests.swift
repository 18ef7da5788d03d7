import Foundation
import Testing
import Tokenization

@Suite struct TokenizerJSONTests {
    /// A small `tokenizer.json` in the SmolLM2 shape: Digits then ByteLevel, pairs as merges.
    static func json(preTokenizer: String = smolLMPreTokenizer, merges: String = #"[["h", "e"], ["Ġ", "he"]]"#,
                     model: String = "BPE", postProcessor: String = "null") -> Data {
        Data("""
        {"version": "1.0",
         "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": true},
                          {"id": 5, "content": "<|user|>", "special": false}],
         "normalizer": null,
         "pre_tokenizer": \(preTokenizer),
         "post_processor": \(postProcessor),
         "model": {"type": "\(model)", "ignore_merges": false,
                   "vocab": {"<|endoftext|>": 0, "h": 1, "e": 2, "Ġ": 3, "he": 4, "Ġhe": 6, "1": 7},
                   "merges": \(merges)}}
        """.utf8)
    }

    static let smolLMPreTokenizer = """
        {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true},
         {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]}
        """

    @Test func parsesVocabularyMergesAndAddedTokens() throws {
        let definition = try TokenizerDefinition.fromTokenizerJSON(data: Self.json())
        #expect(definition.tokens == ["<|endoftext|>", "h", "e", "Ġ", "he", "<|user|>", "Ġhe", "1"])
        #expect(definition.merges == ["h e", "Ġ he"])
        #expect(definition.tokenTypes == [3, 1, 1, 1, 1, 4, 1, 1])
        #expect(definition.preTokenizer == .smollm)
        #expect(definition.addBOS == false)

        let tokenizer = try BPETokenizer(definition)
        #expect(tokenizer.encode("he he<|user|>1<|endoftext|>") == [4, 6, 5, 7, 0])
        #expect(try tokenizer.decode([4, 6, 5]) == "he he<|user|>")
    }

    @Test func mergesAsStringsAndLlama3SplitWithBOS() throws {
        let llama3 = #"""
            {"type": "Sequence", "pretokenizers": [
             {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
             {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
            """#
        let bos = #"""
            {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}]}
            """#
        let config = Data(#"{"eos_token": {"content": "<|user|>"}, "chat_template": "{{'<|im_start|>'}}"}"#.utf8)
        let definition = try TokenizerDefinition.fromTokenizerJSON(
            data: Self.json(preTokenizer: llama3, merges: #"["h e", "Ġ he"]"#, postProcessor: bos), tokenizerConfig: config)
        #expect(definition.preTokenizer == .llama3)
        #expect(definition.merges == ["h e", "Ġ he"])
        #expect(definition.bosTokenID == 0)
        #expect(definition.addBOS)
        #expect(definition.eosTokenID == 5)
        #expect(definition.chatTemplate == "{{'<|im_start|>'}}")
    }

    @Test func unsupportedInputsAreErrors() {
        #expect(throws: TokenizationError.invalidTokenizer("model.type is 'Unigram'; only 'BPE' tokenizers (byte-level or with byte_fallback) are supported")) {
            try TokenizerDefinition.fromTokenizerJSON(data: Self.json(model: "Unigram"))
        }
        #expect(throws: TokenizationError.self) {
            try TokenizerDefinition.fromTokenizerJSON(data: Self.json(preTokenizer: #"{"type": "Metaspace"}"#))
        }
        #expect(throws: TokenizationError.self) {
            try TokenizerDefinition.fromTokenizerJSON(data: Self.json(merges: #"[1, 2]"#))
        }
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: Data("[]".utf8)) }
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: Data("{".utf8)) }
    }
}
