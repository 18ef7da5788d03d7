import Foundation
import LlamaModel
import ModelIO
import ModelFormats
import TestSupport
import Testing
import Tokenization

/// The Mistral v1 SentencePiece reference of `Tests/Fixtures/reference/sentencepiece` (made by
/// `scripts/reference/make_tokenizer_reference.py`): the tokenizer as `tokenizer.json` and as a
/// tokenizer-only GGUF, and every case encoded by `sentencepiece` and Hugging Face `tokenizers`.
enum SentencePieceReference {
    static let directory = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/sentencepiece")

    struct Case: CustomTestStringConvertible, Sendable {
        var index: Int
        var category: String
        var text: String
        /// `tokenizers` with the legacy tokenizer.json (special tokens split off).
        var ids: [Int]
        /// `tokenizers` with a Metaspace(prepend_scheme: "first") pre-tokenizer instead.
        var idsPrependFirst: [Int]
        /// `sentencepiece` (which reads `<s>` in text as text).
        var spmIDs: [Int]
        var decoded: String
        var decodedSkippingSpecialTokens: String
        var spmDecoded: String

        var testDescription: String { "#\(index) \(category): \(text.debugDescription)" }
    }

    struct DecodeCase: CustomTestStringConvertible, Sendable {
        var name: String
        var ids: [Int]
        var decoded: String
        var decodedSkippingSpecialTokens: String
        var spmDecoded: String
        var testDescription: String { name }
    }

    static func root() -> [String: Any] {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("cases.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    static let disagreementCount: Int? = (root()["disagreements"] as? [Any])?.count

    static let cases: [Case] = (root()["cases"] as? [[String: Any]] ?? []).compactMap { entry in
        guard let index = entry["index"] as? Int, let text = entry["text"] as? String, let ids = entry["ids"] as? [Int],
              let first = entry["ids_prepend_first"] as? [Int], let spm = entry["spm_ids"] as? [Int],
              let decoded = entry["decoded"] as? String, let skipped = entry["decoded_skip_special_tokens"] as? String,
              let spmDecoded = entry["spm_decoded"] as? String else { return nil }
        return Case(index: index, category: entry["category"] as? String ?? "", text: text, ids: ids, idsPrependFirst: first,
                    spmIDs: spm, decoded: decoded, decodedSkippingSpecialTokens: skipped, spmDecoded: spmDecoded)
    }

    static let decodeCases: [DecodeCase] = (root()["decode_cases"] as? [[String: Any]] ?? []).compactMap { entry in
        guard let name = entry["name"] as? String, let ids = entry["ids"] as? [Int], let decoded = entry["decoded"] as? String,
              let skipped = entry["decoded_skip_special_tokens"] as? String, let spm = entry["spm_decoded"] as? String else { return nil }
        return DecodeCase(name: name, ids: ids, decoded: decoded, decodedSkippingSpecialTokens: skipped, spmDecoded: spm)
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    static func jsonDefinition() throws -> TokenizerDefinition {
        try TokenizerDefinition.fromTokenizerJSON(data: data("tokenizer.json"), tokenizerConfig: data("tokenizer_config.json"))
    }

    static let fromJSON: Result<BPETokenizer, any Error> = Result { try BPETokenizer(jsonDefinition()) }

    /// The same file with the non-legacy shape: no normalizer, Metaspace(prepend_scheme: "first").
    static let legacyNormalizer =
        #""normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},"pre_tokenizer":null"#
    static let metaspaceFirst =
        #""normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}"#

    /// The same file with the non-legacy shape: no normalizer, Metaspace(prepend_scheme: "first").
    /// Edited as text: a JSONSerialization round trip would lose the "\u{FEFF}" piece.
    static func editedJSON(_ replacement: String) throws -> Data {
        let text = try #require(String(data: data("tokenizer.json"), encoding: .utf8))
        let edited = text.replacingOccurrences(of: legacyNormalizer, with: replacement)
        try #require(edited != text)
        return Data(edited.utf8)
    }

    static let fromJSONPrependFirst: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(TokenizerDefinition.fromTokenizerJSON(data: editedJSON(metaspaceFirst)))
    }

    static let fromGGUF: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(TokenizerDefinition(gguf: GGUFFile(path: directory.appendingPathComponent("tokenizer.gguf").path)))
    }
}

@Suite struct SentencePieceTokenizerTests {
    typealias Reference = SentencePieceReference

    @Test func referenceIsComplete() {
        #expect(Reference.cases.count >= 300)
        #expect(Reference.decodeCases.count == 13)
        #expect(Reference.disagreementCount == 0)
    }

    @Test(arguments: Reference.cases)
    func tokenizerJSONEncodesLikeTokenizers(_ testCase: Reference.Case) throws {
        let tokenizer = try Reference.fromJSON.get()
        #expect(tokenizer.encode(testCase.text) == testCase.ids)
        // Special tokens read as text: what sentencepiece itself does.
        #expect(tokenizer.encode(testCase.text, splitSpecialTokens: false) == testCase.spmIDs)
    }

    @Test(arguments: Reference.cases)
    func ggufEncodesLikeTheReference(_ testCase: Reference.Case) throws {
        let tokenizer = try Reference.fromGGUF.get()
        #expect(tokenizer.encode(testCase.text) == testCase.ids)
        #expect(tokenizer.encode(testCase.text, splitSpecialTokens: false) == testCase.spmIDs)
    }

    @Test(arguments: Reference.cases)
    func metaspacePrependFirstEncodesLikeTokenizers(_ testCase: Reference.Case) throws {
        #expect(try Reference.fromJSONPrependFirst.get().encode(testCase.text) == testCase.idsPrependFirst)
    }

    @Test(arguments: Reference.cases)
    func decodesLikeTheReference(_ testCase: Reference.Case) throws {
        for tokenizer in [try Reference.fromJSON.get(), try Reference.fromGGUF.get()] {
            #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
            #expect(try tokenizer.decode(testCase.ids, skipSpecialTokens: true) == testCase.decodedSkippingSpecialTokens)
            // sentencepiece decodes its own ids to the text (special tokens there are plain text).
            #expect(try tokenizer.decode(testCase.spmIDs) == testCase.spmDecoded)
            // Round trip, except that a literal "▁" in the text reads back as a space.
            let spaced = String(testCase.text.unicodeScalars.map { $0 == "\u{2581}" ? " " : Character($0) })
            #expect(try tokenizer.decode(tokenizer.encode(testCase.text, splitSpecialTokens: false)) == spaced)
        }
    }

    @Test(arguments: Reference.decodeCases)
    func decodesBytePiecesLikeTokenizers(_ testCase: Reference.DecodeCase) throws {
        for tokenizer in [try Reference.fromJSON.get(), try Reference.fromGGUF.get()] {
            #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
            #expect(try tokenizer.decode(testCase.ids, skipSpecialTokens: true) == testCase.decodedSkippingSpecialTokens)
        }
    }

    @Test func definitionsFromBothFormatsAgree() throws {
        let json = try Reference.jsonDefinition()
        let gguf = try TokenizerDefinition(gguf: GGUFFile(path: Reference.directory.appendingPathComponent("tokenizer.gguf").path))
        #expect(json.sentencePiece == .llama)
        #expect(gguf.sentencePiece == .llama)
        #expect(json.tokens == gguf.tokens)
        #expect(json.tokens.count == 32000)
        for definition in [json, gguf] {
            #expect(definition.bosTokenID == 1)
            #expect(definition.eosTokenID == 2)
            #expect(definition.unknownTokenID == 0)
            #expect(definition.addBOS)
        }
        let tokenizer = try BPETokenizer(gguf)
        #expect(tokenizer.id(for: "<0x0A>") == 13)
        #expect(tokenizer.bytes(for: 13) == [0x0A])
        #expect(tokenizer.bytes(for: 22557) == Array(" Hello".utf8))
    }

    @Test func largeTextRoundTripsAndRepeatsItsPieces() throws {
        // Long stretches take the heap merge (the reference's long cases check its order).
        let tokenizer = try Reference.fromGGUF.get()
        let lines = Reference.cases.filter { !$0.text.contains("<") && !$0.text.contains("\u{2581}") }.map(\.text)
        let text = String(repeating: lines.joined(separator: "\n"), count: 6)
        let ids = tokenizer.encode(text)
        let decoded = try tokenizer.decode(ids)
        #expect(decoded == text, "decoding \(ids.count) ids of a \(text.utf8.count)-byte text")
        let phrase = tokenizer.encode("hello world")
        let repeated = tokenizer.encode(String(repeating: "hello world ", count: 2000))
        let expected = Array(repeating: phrase, count: 2000).flatMap { $0 } + [28705]
        #expect(repeated == expected, "\(repeated.count) ids, \(expected.count) expected")
    }

    @Test func unsupportedSentencePieceShapesAreErrors() throws {
        let split = #""normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}"#
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: Reference.editedJSON(split)) }
        let nfkc = #""normalizer":{"type":"NFKC"},"pre_tokenizer":null"#
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: Reference.editedJSON(nfkc)) }
        let definition = try Reference.jsonDefinition()
        #expect(throws: TokenizationError.self) { try definition.tokenizerJSON() }
        var noScores = definition
        noScores.merges = []
        #expect(throws: TokenizationError.self) { try BPETokenizer(noScores) }
    }

    @Test func ggufExportKeepsTheTokenizer() throws {
        // A tokenizer.json definition written as GGUF metadata (scores from merge ranks) and read
        // back encodes the same.
        let json = try Reference.jsonDefinition()
        let metadata = GGUFTokenizerMetadata(json)
        let values = Dictionary(metadata.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(values["tokenizer.ggml.model"]?.string == "llama")
        let scores = try #require(values["tokenizer.ggml.scores"]?.floatArray)
        var definition = json
        definition.merges = []
        definition.scores = scores
        let tokenizer = try BPETokenizer(definition)
        for testCase in Reference.cases { #expect(tokenizer.encode(testCase.text) == testCase.ids) }
    }
}
