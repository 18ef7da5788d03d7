import Testing
@testable import LlamaModel
@testable import ModelIO

@Suite struct LlamaModelErrorTests {
    @Test func messagesNameTheProblem() {
        #expect(LlamaModelError.invalidConfig("num_attention_heads 9 is not a multiple of num_key_value_heads 4").description
            == "invalid model config: num_attention_heads 9 is not a multiple of num_key_value_heads 4")
    }
}
