import Testing
import Tokenization

/// A hand-made vocabulary: two specials (one a prefix of the other), letters, `Ġ` and merges.
enum TinyVocabulary {
    static let tokens = ["<|a|>", "<|a|>b", "h", "e", "l", "o", "Ġ", "he", "ll", "hell", "hello", "lo", "Ġhe", "b"]
    static let types = [3, 4] + Array(repeating: 1, count: tokens.count - 2)
    static let merges = ["h e", "l l", "he ll", "hell o", "l o", "Ġ he"]

    static func definition(merges: [String] = merges, tokenTypes: [Int]? = types) -> TokenizerDefinition {
        TokenizerDefinition(tokens: tokens, merges: merges, tokenTypes: tokenTypes, preTokenizer: .gpt2, eosTokenID: 0)
    }

    static func tokenizer(merges: [String] = merges) throws -> BPETokenizer {
        try BPETokenizer(definition(merges: merges))
    }

    static func id(_ token: String) -> Int { tokens.firstIndex(of: token) ?? -1 }
}

@Suite struct BPETokenizerTests {
    @Test func mergesApplyLowestRankFirst() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        #expect(tokenizer.encode("hello") == [TinyVocabulary.id("hello")])
        #expect(tokenizer.encode(" he") == [TinyVocabulary.id("Ġhe")])
        // "l l" outranks "l o": "ello" → e ll o. With "l o" first: e l lo.
        #expect(tokenizer.encode("ello") == ["e", "ll", "o"].map(TinyVocabulary.id))
        let reordered = try TinyVocabulary.tokenizer(merges: ["l o", "l l"])
        #expect(reordered.encode("ello") == ["e", "l", "lo"].map(TinyVocabulary.id))
    }

    @Test func specialTokensAreSplitLongestFirst() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        #expect(tokenizer.encode("he<|a|>bhe") == ["he", "<|a|>b", "he"].map(TinyVocabulary.id))
        #expect(tokenizer.encode("<|a|><|a|>") == ["<|a|>", "<|a|>"].map(TinyVocabulary.id))
        // Not split: the text is encoded byte by byte (only h, e, l, o, b, Ġ exist, the rest is dropped).
        #expect(tokenizer.encode("<|a|>b", splitSpecialTokens: false) == [TinyVocabulary.id("b")])
        #expect(try tokenizer.decode(["<|a|>", "he", "Ġhe"].map(TinyVocabulary.id)) == "<|a|>he he")
    }

    @Test func unknownIDIsAnError() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        #expect(throws: TokenizationError.unknownTokenID(99, vocabularySize: TinyVocabulary.tokens.count)) {
            try tokenizer.decode([2, 99])
        }
        #expect(throws: TokenizationError.unknownTokenID(-1, vocabularySize: TinyVocabulary.tokens.count)) {
            try tokenizer.decode([-1])
        }
        #expect(tokenizer.token(for: 99) == nil)
        #expect(tokenizer.id(for: "hello") == 10)
        #expect(tokenizer.vocabularySize == 14)
    }

    @Test func bytesTheVocabularyCannotSpellBecomeTheUnknownToken() throws {
        var definition = TinyVocabulary.definition()
        definition.unknownTokenID = TinyVocabulary.id("o")
        #expect(try BPETokenizer(definition).encode("hz") == ["h", "o"].map(TinyVocabulary.id))
        #expect(try BPETokenizer(TinyVocabulary.definition()).encode("hz") == [TinyVocabulary.id("h")])
    }

    @Test func invalidDefinitionsAreErrors() {
        #expect(throws: TokenizationError.invalidTokenizer(
            "tokenizer has no merges; a byte-level BPE tokenizer needs tokenizer.ggml.merges (GGUF) or model.merges (tokenizer.json)"
        )) { try TinyVocabulary.tokenizer(merges: []) }
        #expect(throws: TokenizationError.invalidTokenizer("merge line 2 ('l x') names 'x', which is not in the vocabulary")) {
            try TinyVocabulary.tokenizer(merges: ["h e", "l x"])
        }
        #expect(throws: TokenizationError.invalidTokenizer("merge line 1 ('he') is not of the form 'left right'")) {
            try TinyVocabulary.tokenizer(merges: ["he"])
        }
        #expect(throws: TokenizationError.self) { try BPETokenizer(TinyVocabulary.definition(tokenTypes: [1])) }
        var badEOS = TinyVocabulary.definition()
        badEOS.eosTokenID = 14
        #expect(throws: TokenizationError.invalidTokenizer("eos token id 14 is outside the vocabulary (size 14)")) {
            try BPETokenizer(badEOS)
        }
    }

    @Test func splitUTF8DecodesWithReplacement() throws {
        // "Ã" alone is byte 0xC3, the first half of a two-byte character.
        let definition = TokenizerDefinition(tokens: ["Ã", "©", "Ã©"], merges: ["Ã ©"], preTokenizer: .gpt2)
        let tokenizer = try BPETokenizer(definition)
        #expect(tokenizer.encode("é") == [2])
        #expect(try tokenizer.decode([2]) == "é")
        #expect(try tokenizer.decode([0]) == "\u{FFFD}")
    }

    @Test func longRepetitiveTextRoundTrips() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        let text = String(repeating: "hello he ", count: 10_000)
        let ids = tokenizer.encode(text)
        #expect(ids.count == 30_000)
        #expect(try tokenizer.decode(ids) == text)
    }
}
