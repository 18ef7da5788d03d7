import Testing
@testable import Tokenization

@Suite struct TokenizationErrorTests {
    @Test func unknownIdNamesTheVocabularySize() {
        #expect(TokenizationError.unknownTokenID(60000, vocabularySize: 49152).description
            == "token id 60000 is outside the vocabulary (size 49152)")
    }
}
