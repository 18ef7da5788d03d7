import Foundation
import LlamaModel
import ModelIO
import ModelFormats
import TestSupport
import Testing
import Tokenization

/// A SentencePiece reference made by `scripts/reference/make_tokenizer_reference.py` from one of
/// Mistral's models: the tokenizer as `tokenizer.json` and as a tokenizer-only GGUF, and every case
/// encoded by `sentencepiece` and Hugging Face `tokenizers`.
///
/// - `v1`, `Tests/Fixtures/reference/sentencepiece`: the 32000-piece model of Mistral 7B v0.1
///   (control tokens `<s>`, `</s>` only).
/// - `v3`, `Tests/Fixtures/reference/sentencepiece-v3`: the 32768-piece model of Mistral 7B v0.3,
///   with control tokens `[INST]`, `[/INST]`, `[TOOL_CALLS]`... `[control_748]` and user-defined
///   `[REFERENCE_DOC_0...19]`, which `sentencepiece` (and `tokenizers`, even with
///   `encode_special_tokens`) split off wherever they are written; Tessera's
///   `splitSpecialTokens: false` reads them as text (`idsAddedTokensAsText`).
struct SentencePieceReference: Sendable, CustomTestStringConvertible {
    enum Model: String, Sendable {
        case v1, v3
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var model: Model
        var index: Int
        var category: String
        var text: String
        /// `tokenizers` with the legacy tokenizer.json (special tokens split off).
        var ids: [Int]
        /// `tokenizers` with a Metaspace(prepend_scheme: "first") pre-tokenizer instead.
        var idsPrependFirst: [Int]
        /// `tokenizers` with `encode_special_tokens` (user-defined tokens are still split off).
        var idsSpecialsAsText: [Int]
        /// `tokenizers` with every added token read as text, user-defined ones too (= sentencepiece
        /// with user-defined pieces made control pieces); only in a reference with user-defined pieces.
        var idsAddedTokensAsText: [Int]?
        /// `sentencepiece` (which reads `<s>`, `[INST]` in text as text).
        var spmIDs: [Int]
        var decoded: String
        var decodedSkippingSpecialTokens: String
        var spmDecoded: String

        var reference: SentencePieceReference { .of(model) }
        /// What `encode(text, splitSpecialTokens: false)` gives: every added token read as text.
        var idsAsText: [Int] { idsAddedTokensAsText ?? idsSpecialsAsText }
        var testDescription: String { "\(model) #\(index) \(category): \(text.debugDescription)" }
    }

    struct DecodeCase: CustomTestStringConvertible, Sendable {
        var model: Model
        var name: String
        var ids: [Int]
        var decoded: String
        var decodedSkippingSpecialTokens: String
        var spmDecoded: String
        var reference: SentencePieceReference { .of(model) }
        var testDescription: String { "\(model) \(name)" }
    }

    struct Disagreement: Sendable {
        var index: Int
        var what: String
    }

    /// Facts of the model the tests check exactly.
    struct Expected: Sendable {
        var cases: Int
        var decodeCases: Int
        /// Cases where sentencepiece and tokenizers (specials read as text) differ.
        var disagreements: Int
        /// Cases where splitting user-defined tokens off changes the ids.
        var userDefinedSplits: Int
        var tokens: Int
        var newlineID: Int
        var helloID: Int
        var spaceID: Int
    }

    static let v1 = SentencePieceReference(.v1, folder: "sentencepiece", expected: Expected(
        cases: 432, decodeCases: 13, disagreements: 0, userDefinedSplits: 0,
        tokens: 32000, newlineID: 13, helloID: 22557, spaceID: 28705))
    static let v3 = SentencePieceReference(.v3, folder: "sentencepiece-v3", expected: Expected(
        cases: 585, decodeCases: 19, disagreements: 18, userDefinedSplits: 21,
        tokens: 32768, newlineID: 781, helloID: 23325, spaceID: 29473))
    static let all = [v1, v3]
    static func of(_ model: Model) -> SentencePieceReference { model == .v1 ? v1 : v3 }
    static let allCases = all.flatMap(\.cases)
    static let allDecodeCases = all.flatMap(\.decodeCases)

    let model: Model
    let directory: URL
    let expected: Expected
    let cases: [Case]
    let decodeCases: [DecodeCase]
    let disagreements: [Disagreement]?
    let fromJSON: Result<BPETokenizer, any Error>
    /// The same file with the non-legacy shape: no normalizer, Metaspace(prepend_scheme: "first").
    let fromJSONPrependFirst: Result<BPETokenizer, any Error>
    let fromGGUF: Result<BPETokenizer, any Error>

    var testDescription: String { "\(model) (\(directory.lastPathComponent))" }

    private init(_ model: Model, folder: String, expected: Expected) {
        self.model = model
        self.expected = expected
        let directory = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/\(folder)")
        self.directory = directory
        let root: [String: Any] = {
            guard let data = try? Data(contentsOf: directory.appendingPathComponent("cases.json")),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            return object
        }()
        disagreements = (root["disagreements"] as? [[String: Any]])?.map { entry in
            Disagreement(index: entry["index"] as? Int ?? -1, what: entry["what"] as? String ?? "")
        }
        cases = (root["cases"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let index = entry["index"] as? Int, let text = entry["text"] as? String, let ids = entry["ids"] as? [Int],
                  let first = entry["ids_prepend_first"] as? [Int], let asText = entry["ids_specials_as_text"] as? [Int],
                  let spm = entry["spm_ids"] as? [Int],
                  let decoded = entry["decoded"] as? String, let skipped = entry["decoded_skip_special_tokens"] as? String,
                  let spmDecoded = entry["spm_decoded"] as? String else { return nil }
            return Case(model: model, index: index, category: entry["category"] as? String ?? "", text: text, ids: ids,
                        idsPrependFirst: first, idsSpecialsAsText: asText,
                        idsAddedTokensAsText: entry["ids_added_tokens_as_text"] as? [Int], spmIDs: spm,
                        decoded: decoded, decodedSkippingSpecialTokens: skipped, spmDecoded: spmDecoded)
        }
        decodeCases = (root["decode_cases"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let name = entry["name"] as? String, let ids = entry["ids"] as? [Int], let decoded = entry["decoded"] as? String,
                  let skipped = entry["decoded_skip_special_tokens"] as? String, let spm = entry["spm_decoded"] as? String else { return nil }
            return DecodeCase(model: model, name: name, ids: ids, decoded: decoded, decodedSkippingSpecialTokens: skipped, spmDecoded: spm)
        }
        func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }
        fromJSON = Result {
            try BPETokenizer(TokenizerDefinition.fromTokenizerJSON(data: data("tokenizer.json"), tokenizerConfig: data("tokenizer_config.json")))
        }
        fromJSONPrependFirst = Result {
            try BPETokenizer(TokenizerDefinition.fromTokenizerJSON(data: Self.editedJSON(data("tokenizer.json"), Self.metaspaceFirst)))
        }
        fromGGUF = Result {
            try BPETokenizer(TokenizerDefinition(gguf: GGUFFile(path: directory.appendingPathComponent("tokenizer.gguf").path)))
        }
    }

    func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    func jsonDefinition() throws -> TokenizerDefinition {
        try TokenizerDefinition.fromTokenizerJSON(data: data("tokenizer.json"), tokenizerConfig: data("tokenizer_config.json"))
    }

    func ggufDefinition() throws -> TokenizerDefinition {
        try TokenizerDefinition(gguf: GGUFFile(path: directory.appendingPathComponent("tokenizer.gguf").path))
    }

    static let legacyNormalizer =
        #""normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},"pre_tokenizer":null"#
    static let metaspaceFirst =
        #""normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}"#

    /// The same file with `replacement` for the legacy normalizer and pre-tokenizer.
    /// Edited as text: a JSONSerialization round trip would lose the "\u{FEFF}" piece.
    static func editedJSON(_ data: Data, _ replacement: String) throws -> Data {
        let text = try #require(String(data: data, encoding: .utf8))
        let edited = text.replacingOccurrences(of: legacyNormalizer, with: replacement)
        try #require(edited != text)
        return Data(edited.utf8)
    }

    func editedJSON(_ replacement: String) throws -> Data { try Self.editedJSON(data("tokenizer.json"), replacement) }
}

@Suite struct SentencePieceTokenizerTests {
    typealias Reference = SentencePieceReference

    @Test(arguments: Reference.all)
    func referenceIsComplete(_ reference: Reference) throws {
        let expected = reference.expected
        #expect(reference.cases.count == expected.cases)
        #expect(reference.cases.count >= 300)
        #expect(reference.decodeCases.count == expected.decodeCases)
        let disagreements = try #require(reference.disagreements)
        #expect(disagreements.count == expected.disagreements)
        // The only disagreement: sentencepiece and tokenizers both split user-defined tokens off,
        // but tokenizers puts a "▁" in front of the text after one, sentencepiece does not.
        for disagreement in disagreements {
            #expect(disagreement.what == "sentencepiece ids != tokenizers ids (specials as text)")
            let testCase = try #require(reference.cases.first { $0.index == disagreement.index })
            #expect(testCase.idsAddedTokensAsText != testCase.idsSpecialsAsText, "\(testCase.testDescription)")
        }
        let splits = reference.cases.filter { $0.idsAsText != $0.idsSpecialsAsText }
        #expect(splits.count == expected.userDefinedSplits)
        #expect(reference.cases.filter { $0.idsAsText != $0.spmIDs }.count == expected.userDefinedSplits)
        switch reference.model {
        case .v1:
            #expect(reference.cases.allSatisfy { $0.idsAddedTokensAsText == nil })
        case .v3:
            #expect(reference.cases.allSatisfy { $0.idsAddedTokensAsText != nil })
            #expect(reference.cases.filter { $0.text.contains("[INST]") }.count == 48)
            #expect(reference.cases.filter { $0.text.contains("[REFERENCE_DOC_") }.count == 26)
        }
    }

    @Test(arguments: Reference.allCases)
    func tokenizerJSONEncodesLikeTokenizers(_ testCase: Reference.Case) throws {
        let tokenizer = try testCase.reference.fromJSON.get()
        #expect(tokenizer.encode(testCase.text) == testCase.ids)
        // Special tokens read as text: what sentencepiece itself does (it still splits
        // user-defined tokens off, which Tessera reads as text too).
        let asText = tokenizer.encode(testCase.text, splitSpecialTokens: false)
        #expect(asText == testCase.idsAsText)
        if testCase.idsAsText == testCase.spmIDs { #expect(asText == testCase.spmIDs) }
    }

    @Test(arguments: Reference.allCases)
    func ggufEncodesLikeTheReference(_ testCase: Reference.Case) throws {
        let tokenizer = try testCase.reference.fromGGUF.get()
        #expect(tokenizer.encode(testCase.text) == testCase.ids)
        let asText = tokenizer.encode(testCase.text, splitSpecialTokens: false)
        #expect(asText == testCase.idsAsText)
        if testCase.idsAsText == testCase.spmIDs { #expect(asText == testCase.spmIDs) }
    }

    @Test(arguments: Reference.allCases)
    func metaspacePrependFirstEncodesLikeTokenizers(_ testCase: Reference.Case) throws {
        #expect(try testCase.reference.fromJSONPrependFirst.get().encode(testCase.text) == testCase.idsPrependFirst)
    }

    @Test(arguments: Reference.allCases)
    func decodesLikeTheReference(_ testCase: Reference.Case) throws {
        for tokenizer in [try testCase.reference.fromJSON.get(), try testCase.reference.fromGGUF.get()] {
            #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
            #expect(try tokenizer.decode(testCase.ids, skipSpecialTokens: true) == testCase.decodedSkippingSpecialTokens)
            // sentencepiece decodes its own ids to the text (special tokens there are plain text).
            #expect(try tokenizer.decode(testCase.spmIDs) == testCase.spmDecoded)
            // Round trip, except that a literal "▁" in the text reads back as a space.
            let spaced = String(testCase.text.unicodeScalars.map { $0 == "\u{2581}" ? " " : Character($0) })
            #expect(try tokenizer.decode(tokenizer.encode(testCase.text, splitSpecialTokens: false)) == spaced)
        }
    }

    @Test(arguments: Reference.allDecodeCases)
    func decodesBytePiecesLikeTokenizers(_ testCase: Reference.DecodeCase) throws {
        for tokenizer in [try testCase.reference.fromJSON.get(), try testCase.reference.fromGGUF.get()] {
            #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
            #expect(try tokenizer.decode(testCase.ids, skipSpecialTokens: true) == testCase.decodedSkippingSpecialTokens)
        }
    }

    @Test(arguments: Reference.all)
    func definitionsFromBothFormatsAgree(_ reference: Reference) throws {
        let json = try reference.jsonDefinition()
        let gguf = try reference.ggufDefinition()
        #expect(json.sentencePiece == .llama)
        #expect(gguf.sentencePiece == .llama)
        #expect(json.tokens == gguf.tokens)
        #expect(json.tokens.count == reference.expected.tokens)
        // Token types agree but for <unk>: an added special token (control) in tokenizer.json.
        let jsonTypes = try #require(json.tokenTypes), ggufTypes = try #require(gguf.tokenTypes)
        #expect(jsonTypes[0] == TokenizerDefinition.TokenType.control)
        #expect(ggufTypes[0] == TokenizerDefinition.TokenType.unknown)
        #expect(Array(jsonTypes.dropFirst()) == Array(ggufTypes.dropFirst()))
        for definition in [json, gguf] {
            #expect(definition.bosTokenID == 1)
            #expect(definition.eosTokenID == 2)
            #expect(definition.unknownTokenID == 0)
            #expect(definition.addBOS)
        }
        let tokenizer = try BPETokenizer(gguf)
        let newline = reference.expected.newlineID
        #expect(tokenizer.id(for: "<0x0A>") == newline)
        #expect(tokenizer.bytes(for: newline) == [0x0A])
        #expect(tokenizer.bytes(for: reference.expected.helloID) == Array(" Hello".utf8))
        #expect(tokenizer.id(for: "\u{2581}") == reference.expected.spaceID)

        // The GGUF-loaded tokenizer is the tokenizer.json-loaded one.
        let fromJSON = try reference.fromJSON.get(), fromGGUF = try reference.fromGGUF.get()
        #expect(fromJSON.vocabularySize == fromGGUF.vocabularySize)
        #expect(fromJSON.specialTokenTexts == fromGGUF.specialTokenTexts)
        for testCase in reference.cases {
            #expect(fromJSON.encode(testCase.text) == fromGGUF.encode(testCase.text), "\(testCase.testDescription)")
            #expect(fromJSON.encode(testCase.text, splitSpecialTokens: false) == fromGGUF.encode(testCase.text, splitSpecialTokens: false),
                    "\(testCase.testDescription)")
        }

        if reference.model == .v3 {
            let controls = ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
                            "[/TOOL_RESULTS]", "[IMG]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]"]
            for (offset, text) in controls.enumerated() {
                #expect(tokenizer.id(for: text) == 3 + offset)
                #expect(jsonTypes[3 + offset] == TokenizerDefinition.TokenType.control)
            }
            #expect(tokenizer.id(for: "[control_748]") == 750)
            #expect(tokenizer.id(for: "[REFERENCE_DOC_19]") == 751)
            #expect(tokenizer.id(for: "[REFERENCE_DOC_0]") == 770)
            #expect(jsonTypes[751...770].allSatisfy { $0 == TokenizerDefinition.TokenType.userDefined })
            #expect(tokenizer.id(for: "<0x00>") == 771)
            // Control tokens are special (decode can skip them); user-defined ones are not.
            let special = Set(tokenizer.specialTokenTexts)
            #expect(special.contains("[INST]") && special.contains("[control_748]") && special.contains("</s>"))
            #expect(!special.contains("[REFERENCE_DOC_0]"))
            #expect(special.count == 751)
            #expect(tokenizer.encode("[INST] Hi[/INST]") == [3, 29473, 16127, 4])
            #expect(try tokenizer.decode([1, 3, 16127, 4, 23325, 2], skipSpecialTokens: true) == "Hi Hello")
        }
    }

    @Test(arguments: Reference.all)
    func largeTextRoundTripsAndRepeatsItsPieces(_ reference: Reference) throws {
        // Long stretches take the heap merge (the reference's long cases check its order).
        let tokenizer = try reference.fromGGUF.get()
        let definition = try reference.ggufDefinition()
        let types = try #require(definition.tokenTypes)
        // Texts that hold no added token (<s>, [INST], [REFERENCE_DOC_0]...): those would be split off.
        let added = definition.tokens.indices.filter { [2, 3, 4].contains(types[$0]) }.map { definition.tokens[$0] }
        let lines = reference.cases.filter { testCase in
            !testCase.text.contains("<") && !testCase.text.contains("\u{2581}") && !added.contains { testCase.text.contains($0) }
        }.map(\.text)
        let text = String(repeating: lines.joined(separator: "\n"), count: 6)
        let ids = tokenizer.encode(text)
        let decoded = try tokenizer.decode(ids)
        #expect(decoded == text, "decoding \(ids.count) ids of a \(text.utf8.count)-byte text")
        let phrase = tokenizer.encode("hello world")
        let repeated = tokenizer.encode(String(repeating: "hello world ", count: 2000))
        let expected = Array(repeating: phrase, count: 2000).flatMap { $0 } + [reference.expected.spaceID]
        #expect(repeated == expected, "\(repeated.count) ids, \(expected.count) expected")
    }

    @Test(arguments: Reference.all)
    func unsupportedSentencePieceShapesAreErrors(_ reference: Reference) throws {
        let split = #""normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}"#
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: reference.editedJSON(split)) }
        let nfkc = #""normalizer":{"type":"NFKC"},"pre_tokenizer":null"#
        #expect(throws: TokenizationError.self) { try TokenizerDefinition.fromTokenizerJSON(data: reference.editedJSON(nfkc)) }
        let definition = try reference.jsonDefinition()
        #expect(throws: TokenizationError.self) { try definition.tokenizerJSON() }
        var noScores = definition
        noScores.merges = []
        #expect(throws: TokenizationError.self) { try BPETokenizer(noScores) }
    }

    @Test(arguments: Reference.all)
    func ggufExportKeepsTheTokenizer(_ reference: Reference) throws {
        // A tokenizer.json definition written as GGUF metadata (scores from merge ranks) and read
        // back encodes the same.
        let json = try reference.jsonDefinition()
        let metadata = GGUFTokenizerMetadata(json)
        let values = Dictionary(metadata.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(values["tokenizer.ggml.model"]?.string == "llama")
        let scores = try #require(values["tokenizer.ggml.scores"]?.floatArray)
        var definition = json
        definition.merges = []
        definition.scores = scores
        let tokenizer = try BPETokenizer(definition)
        for testCase in reference.cases { #expect(tokenizer.encode(testCase.text) == testCase.ids) }
    }
}
