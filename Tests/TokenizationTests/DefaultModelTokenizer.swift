import Foundation
import ModelFormats
import TestSupport
import Tokenization

/// The default model's tokenizer, built once from its GGUF metadata for the golden tests.
enum DefaultModelTokenizer {
    enum LoadError: Error, CustomStringConvertible {
        case missingKey(String)
        var description: String { "GGUF metadata has no usable '\(self)'" }
    }

    /// The tokenizer of `TestPaths.defaultModel`, loaded on first use.
    static let shared: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(definition(from: try metadata()))
    }

    static func load() throws -> BPETokenizer { try shared.get() }

    static func metadata() throws -> [String: GGUFValue] {
        try GGUFFile(path: TestPaths.defaultModel.path).metadata
    }

    /// Maps `tokenizer.ggml.*` keys to a definition, as the model loader will.
    static func definition(from metadata: [String: GGUFValue]) throws -> TokenizerDefinition {
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.stringArray else { throw LoadError.missingKey("tokenizer.ggml.tokens") }
        guard let merges = metadata["tokenizer.ggml.merges"]?.stringArray else { throw LoadError.missingKey("tokenizer.ggml.merges") }
        guard let pre = metadata["tokenizer.ggml.pre"]?.string else { throw LoadError.missingKey("tokenizer.ggml.pre") }
        return TokenizerDefinition(
            tokens: tokens,
            merges: merges,
            tokenTypes: metadata["tokenizer.ggml.token_type"]?.intArray,
            preTokenizer: try PreTokenizer(ggufName: pre),
            bosTokenID: metadata["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenID: metadata["tokenizer.ggml.eos_token_id"]?.int,
            padTokenID: metadata["tokenizer.ggml.padding_token_id"]?.int,
            unknownTokenID: metadata["tokenizer.ggml.unknown_token_id"]?.int,
            addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            chatTemplate: metadata["tokenizer.chat_template"]?.string)
    }
}
