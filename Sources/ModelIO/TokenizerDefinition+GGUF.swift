// The tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata.
import LlamaModel
import ModelFormats
import Tokenization

extension TokenizerDefinition {
    /// Reads the tokenizer from GGUF metadata: `tokenizer.ggml.model` `gpt2` (byte-level BPE, with
    /// merges) or `llama` (SentencePiece BPE with byte fallback: merges by `tokenizer.ggml.scores`,
    /// `tokenizer.ggml.add_space_prefix`, default true, as llama.cpp reads it).
    public init(gguf: GGUFFile) throws {
        let metadata = gguf.metadata
        func required(_ key: String) throws -> GGUFValue {
            guard let value = metadata[key] else {
                throw LlamaModelError.invalidConfig("\(gguf.path): metadata key \(key) is missing")
            }
            return value
        }
        let model = try required("tokenizer.ggml.model").string ?? ""
        guard model == "gpt2" || model == "llama" else {
            throw LlamaModelError.invalidConfig(
                "\(gguf.path): tokenizer.ggml.model is \"\(model)\"; supported: \"gpt2\" (byte-level BPE) and \"llama\" (SentencePiece BPE)")
        }
        guard let tokens = try required("tokenizer.ggml.tokens").stringArray else {
            throw LlamaModelError.invalidConfig("\(gguf.path): tokenizer.ggml.tokens is not an array of strings")
        }
        if model == "llama" {
            guard let scores = try required("tokenizer.ggml.scores").floatArray else {
                throw LlamaModelError.invalidConfig("\(gguf.path): tokenizer.ggml.scores is not an array of numbers")
            }
            let addSpacePrefix = metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? true
            self.init(
                tokens: tokens,
                merges: [],
                tokenTypes: metadata["tokenizer.ggml.token_type"]?.intArray,
                preTokenizer: .gpt2,
                bosTokenID: metadata["tokenizer.ggml.bos_token_id"]?.int,
                eosTokenID: metadata["tokenizer.ggml.eos_token_id"]?.int,
                padTokenID: metadata["tokenizer.ggml.padding_token_id"]?.int,
                unknownTokenID: metadata["tokenizer.ggml.unknown_token_id"]?.int,
                addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? true,
                chatTemplate: metadata["tokenizer.chat_template"]?.string,
                scores: scores,
                sentencePiece: SentencePieceOptions(spacePrefix: addSpacePrefix ? .always : .never, stripsLeadingSpace: addSpacePrefix))
            return
        }
        guard let merges = metadata["tokenizer.ggml.merges"]?.stringArray, !merges.isEmpty else {
            throw LlamaModelError.invalidConfig("\(gguf.path): tokenizer has no merges (tokenizer.ggml.merges is missing or empty)")
        }
        let preName = metadata["tokenizer.ggml.pre"]?.string ?? "default"
        self.init(
            tokens: tokens,
            merges: merges,
            tokenTypes: metadata["tokenizer.ggml.token_type"]?.intArray,
            preTokenizer: try PreTokenizer(ggufName: preName),
            bosTokenID: metadata["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenID: metadata["tokenizer.ggml.eos_token_id"]?.int,
            padTokenID: metadata["tokenizer.ggml.padding_token_id"]?.int,
            unknownTokenID: metadata["tokenizer.ggml.unknown_token_id"]?.int,
            addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            chatTemplate: metadata["tokenizer.chat_template"]?.string)
    }
}
