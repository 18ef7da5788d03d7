import Foundation
import Testing
import TestSupport
@testable import Tokenization

/// Word splits checked against Hugging Face `tokenizers` 0.22 (`Split(Regex(pattern), "isolated")`,
/// preceded by `Digits(individual_digits=True)` for smollm) on the same strings.
@Suite struct PreTokenizerTests {
    static func words(_ text: String, _ preTokenizer: PreTokenizer) -> [String] {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { mutable in
            let buffer = UnsafeBufferPointer(mutable)
            var scalars = ScalarText()
            scalars.load(buffer, 0, buffer.count)
            var ranges: [(Int, Int)] = []
            preTokenizer.split(scalars, into: &ranges)
            return ranges.map { String(decoding: buffer[$0.0..<$0.1], as: UTF8.self) }
        }
    }

    static let texts = [
        "Hello world", "x  1", "I'LL don't", "  indented\n\n  code\r\n", "12345 abc", "a\u{A0}b\u{3000} c",
        "?!  (x)\n\n", "\u{2B0}ello \u{663}\u{B2}\u{BD}", "tab\tthen \tx", " 'sx",
    ]

    @Test func gpt2() {
        let expected: [[String]] = [
            ["Hello", " world"], ["x", " ", " 1"], ["I", "'", "LL", " don", "'t"],
            [" ", " indented", "\n\n ", " code", "\r\n"], ["12345", " abc"], ["a", "\u{A0}", "b", "\u{3000}", " c"],
            ["?!", " ", " (", "x", ")", "\n\n"], ["\u{2B0}ello", " \u{663}\u{B2}\u{BD}"],
            ["tab", "\t", "then", " ", "\t", "x"], [" '", "sx"],
        ]
        for (text, words) in zip(Self.texts, expected) { #expect(Self.words(text, .gpt2) == words, "\(text.debugDescription)") }
    }

    @Test func smollmSplitsEveryNumberScalar() {
        let expected: [[String]] = [
            ["Hello", " world"], ["x", "  ", "1"], ["I", "'", "LL", " don", "'t"],
            [" ", " indented", "\n\n ", " code", "\r\n"], ["1", "2", "3", "4", "5", " abc"],
            ["a", "\u{A0}", "b", "\u{3000}", " c"], ["?!", " ", " (", "x", ")", "\n\n"],
            ["\u{2B0}ello", " ", "\u{663}", "\u{B2}", "\u{BD}"], ["tab", "\t", "then", " ", "\t", "x"], [" '", "sx"],
        ]
        for (text, words) in zip(Self.texts, expected) { #expect(Self.words(text, .smollm) == words, "\(text.debugDescription)") }
    }

    @Test func llama3AndQwen2() {
        let expected: [[String]] = [
            ["Hello", " world"], ["x", " ", " ", "1"], ["I", "'LL", " don", "'t"],
            [" ", " indented", "\n\n", " ", " code", "\r\n"], ["123", "45", " abc"], ["a", "\u{A0}b", "\u{3000}", " c"],
            ["?!", " ", " (", "x", ")\n\n"], ["\u{2B0}ello", " ", "\u{663}\u{B2}\u{BD}"], ["tab", "\tthen", " ", "\tx"],
            [" '", "sx"],
        ]
        for (text, words) in zip(Self.texts, expected) {
            #expect(Self.words(text, .llama3) == words, "\(text.debugDescription)")
            let qwen = text == "12345 abc" ? ["1", "2", "3", "4", "5", " abc"]
                : text.hasPrefix("\u{2B0}") ? ["\u{2B0}ello", " ", "\u{663}", "\u{B2}", "\u{BD}"] : words
            #expect(Self.words(text, .qwen2) == qwen, "\(text.debugDescription)")
        }
    }

    @Test func ggufNames() throws {
        #expect(try PreTokenizer(ggufName: "smollm") == .smollm)
        #expect(try PreTokenizer(ggufName: "default") == .gpt2)
        #expect(try PreTokenizer(ggufName: "gpt-2") == .gpt2)   // llama.cpp's name, which the GGUF writer uses
        #expect(try PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(try PreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(try PreTokenizer(ggufName: "gpt-4o") == .gpt4o)
        #expect(throws: TokenizationError.invalidTokenizer(
            "pre-tokenizer 'tekken' is not supported; supported tokenizer.ggml.pre values: default, gpt-2, gpt2, smollm, llama-bpe, llama3, qwen2, gpt-4o"
        )) { try PreTokenizer(ggufName: "tekken") }
    }

    /// GPT-4o / o200k (Phi-4-mini): every case of Tests/Fixtures/reference/pretokenizers/gpt4o.json
    /// (Hugging Face `tokenizers`' Split with the pattern, scripts/reference/make_pretokenizer_reference.py),
    /// and the pattern is the one `tokenizer.json` files carry.
    @Test func gpt4oMatchesHuggingFaceTokenizers() throws {
        let url = TestPaths.familyReference("pretokenizers/gpt4o.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count >= 25)
        for entry in cases {
            let text = try #require(entry["text"] as? String), words = try #require(entry["words"] as? [String])
            #expect(Self.words(text, .gpt4o) == words, "\(text.debugDescription)")
        }
        #expect(TokenizerDefinition.knownSplitPatterns[try #require(json["pattern"] as? String)] == .gpt4o)
    }

    @Test func emptyTextHasNoWords() {
        for preTokenizer in PreTokenizer.allCases { #expect(Self.words("", preTokenizer).isEmpty) }
    }
}
