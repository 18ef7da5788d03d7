// The tokenizer.json / tokenizer_config.json writer against the reader: every definition the
// writer accepts must read back equal, and the default model's tokenizer must encode the golden
// cases identically after the round trip.

import Foundation
import TestSupport
import Testing
import Tokenization

@Suite struct TokenizerJSONWriterTests {
    /// A tiny vocabulary with control and user-defined tokens, merges and a template that needs
    /// escaping (quotes, backslashes, newlines, non-ASCII).
    static func tinyDefinition(_ preTokenizer: PreTokenizer, addBOS: Bool = false) -> TokenizerDefinition {
        let tokens = ["<|endoftext|>", "<|im_start|>", "h", "e", "l", "o", "Ġ", "he", "ll", "hell", "hello",
                      "Ġhello", "1", "2", "<tool>", "é", "Ã"]
        var types = [Int](repeating: TokenizerDefinition.TokenType.normal, count: tokens.count)
        types[0] = TokenizerDefinition.TokenType.control
        types[1] = TokenizerDefinition.TokenType.control
        types[14] = TokenizerDefinition.TokenType.userDefined
        return TokenizerDefinition(
            tokens: tokens, merges: ["h e", "l l", "he ll", "hell o", "Ġ hello"], tokenTypes: types,
            preTokenizer: preTokenizer, bosTokenID: 1, eosTokenID: 0, padTokenID: 0, addBOS: addBOS,
            chatTemplate: "{% for m in messages %}<|im_start|>{{ m['role'] }}\n\"\\ é 🙂\t{% endfor %}")
    }

    static func roundTrip(_ definition: TokenizerDefinition) throws -> TokenizerDefinition {
        try TokenizerDefinition.fromTokenizerJSON(data: definition.tokenizerJSON(),
                                                  tokenizerConfig: definition.tokenizerConfigJSON(modelMaxLength: 2048))
    }

    @Test(arguments: PreTokenizer.allCases)
    func tinyDefinitionReadsBackEqual(_ preTokenizer: PreTokenizer) throws {
        for addBOS in [false, true] {
            let original = Self.tinyDefinition(preTokenizer, addBOS: addBOS)
            let reread = try Self.roundTrip(original)
            #expect(reread == original, "\(preTokenizer) addBOS \(addBOS)")
            let text = "hello hello<tool>12 hé<|endoftext|>"
            #expect(try BPETokenizer(reread).encode(text) == BPETokenizer(original).encode(text))
        }
    }

    @Test func ignoreMergesIsKept() throws {
        var definition = Self.tinyDefinition(.gpt2)
        definition.ignoreMerges = true
        #expect(try Self.roundTrip(definition).ignoreMerges == true)
    }

    @Test func writesUpstreamKeys() throws {
        let root = try #require(try JSONSerialization.jsonObject(with: Self.tinyDefinition(.smollm).tokenizerJSON()) as? [String: Any])
        let model = try #require(root["model"] as? [String: Any])
        #expect(model["type"] as? String == "BPE" && model["byte_fallback"] as? Bool == false)
        #expect((model["merges"] as? [[String]])?.first == ["h", "e"])
        #expect((model["vocab"] as? [String: Int])?["Ġhello"] == 11)
        let added = try #require(root["added_tokens"] as? [[String: Any]])
        #expect(added.map { $0["id"] as? Int } == [0, 1, 14])
        #expect(added.map { $0["special"] as? Bool } == [true, true, false])
        let pre = try #require(root["pre_tokenizer"] as? [String: Any])
        let steps = try #require(pre["pretokenizers"] as? [[String: Any]])
        #expect(steps.map { $0["type"] as? String } == ["Digits", "ByteLevel"])
        #expect((root["post_processor"] as? [String: Any])?["type"] as? String == "ByteLevel")

        let config = try #require(try JSONSerialization.jsonObject(with: Self.tinyDefinition(.smollm).tokenizerConfigJSON()) as? [String: Any])
        #expect(config["bos_token"] as? String == "<|im_start|>" && config["eos_token"] as? String == "<|endoftext|>")
        #expect(config["add_bos_token"] as? Bool == false && config["add_eos_token"] as? Bool == false)
        #expect(config["chat_template"] as? String == Self.tinyDefinition(.smollm).chatTemplate)
        #expect(((config["added_tokens_decoder"] as? [String: Any])?["14"] as? [String: Any])?["content"] as? String == "<tool>")
    }

    @Test func refusesWhatTokenizerJSONCannotHold() throws {
        var duplicate = Self.tinyDefinition(.gpt2)
        duplicate.tokens[5] = "h"
        #expect(throws: TokenizationError.self) { try duplicate.tokenizerJSON() }
        var badMerge = Self.tinyDefinition(.gpt2)
        badMerge.merges.append("hello")
        #expect(throws: TokenizationError.self) { try badMerge.tokenizerJSON() }
        var badBOS = Self.tinyDefinition(.gpt2)
        badBOS.bosTokenID = 99
        #expect(throws: TokenizationError.self) { try badBOS.tokenizerConfigJSON() }
    }

    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func defaultModelTokenizerRoundTripsAndEncodesTheGoldenCases() throws {
        let original = try DefaultModelTokenizer.definition(from: DefaultModelTokenizer.metadata())
        let reread = try Self.roundTrip(original)
        #expect(reread.tokens == original.tokens)
        #expect(reread.merges == original.merges)
        #expect(reread.preTokenizer == .smollm)
        #expect(reread.bosTokenID == original.bosTokenID && reread.eosTokenID == original.eosTokenID)
        #expect(reread.padTokenID == original.padTokenID && reread.addBOS == original.addBOS)
        #expect(reread.chatTemplate == original.chatTemplate)
        let cases = try TokenizerCase.all()
        #expect(cases.count == 60)
        let tokenizer = try BPETokenizer(reread)
        for testCase in cases {
            #expect(tokenizer.encode(testCase.text) == (testCase.digitSplitIDs ?? testCase.ids), "\(testCase.testDescription)")
        }
    }
}
