import Foundation
import TestSupport
import Testing
import Tokenization

/// One case of `tokenizer_cases.json`.
struct TokenizerCase: CustomTestStringConvertible, Sendable {
    var index: Int
    var category: String
    var text: String
    var ids: [Int]
    /// The ids under the `smollm` pre-tokenizer, where they differ from the GPT-2-only reference.
    var digitSplitIDs: [Int]?
    var decoded: String
    var decodedSkippingSpecialTokens: String

    var testDescription: String { "#\(index) \(category): \(text.debugDescription)" }

    static func all() throws -> [TokenizerCase] {
        guard let root = try TestPaths.referenceJSON("tokenizer_cases.json") as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.compactMap { entry in
            guard let index = entry["index"] as? Int, let text = entry["text"] as? String,
                  let ids = entry["ids"] as? [Int], let decoded = entry["decoded"] as? String,
                  let skipped = entry["decoded_skip_special_tokens"] as? String else { return nil }
            return TokenizerCase(
                index: index, category: entry["category"] as? String ?? "", text: text, ids: ids,
                digitSplitIDs: entry["ids_with_digit_split_pretokenizer"] as? [Int], decoded: decoded,
                decodedSkippingSpecialTokens: skipped)
        }
    }
}

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct GoldenTokenizerTests {
    static let cases: [TokenizerCase] = (try? TokenizerCase.all()) ?? []

    @Test func referenceHasSixtyCases() {
        #expect(Self.cases.count == 60)
        #expect(Self.cases.filter { $0.digitSplitIDs != nil }.count == 2)
    }

    @Test(arguments: cases)
    func encodesLikeTheReference(_ testCase: TokenizerCase) throws {
        let tokenizer = try DefaultModelTokenizer.load()
        // The model declares the `smollm` pre-tokenizer (digits split first); where that differs
        // from the GPT-2-only reference, the reference records the digit-split ids.
        #expect(tokenizer.encode(testCase.text) == (testCase.digitSplitIDs ?? testCase.ids))
    }

    @Test(arguments: cases)
    func decodesBackToTheText(_ testCase: TokenizerCase) throws {
        let tokenizer = try DefaultModelTokenizer.load()
        #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
        #expect(try tokenizer.decode(testCase.ids, skipSpecialTokens: true) == testCase.decodedSkippingSpecialTokens)
        #expect(try tokenizer.decode(tokenizer.encode(testCase.text)) == testCase.text)
    }

    @Test func metadataMatchesTheModel() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(tokenizer.bosTokenID == 1)
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.addBOS == false)
        #expect(tokenizer.id(for: "<|im_end|>") == 2)
        #expect(tokenizer.token(for: 198) == "\u{10A}")
    }

    @Test func specialTokensStayTextWhenNotSplit() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let ids = tokenizer.encode("<|im_end|>", splitSpecialTokens: false)
        #expect(!ids.contains(2))
        #expect(try tokenizer.decode(ids) == "<|im_end|>")
    }

    @Test func largeTextRoundTripsAndIsTheSameFromManyThreads() async throws {
        let tokenizer = try DefaultModelTokenizer.load()
        // ~200 KB mixing every reference case: exercises the word cache and its hits.
        let text = String(repeating: Self.cases.map(\.text).joined(separator: "\n"), count: 150)
        let ids = tokenizer.encode(text)
        #expect(try tokenizer.decode(ids) == text)
        let results = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 { group.addTask { tokenizer.encode(text) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == ids })
    }
}
