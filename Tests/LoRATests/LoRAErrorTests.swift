import Testing
@testable import LoRA

@Suite struct LoRAErrorTests {
    @Test func messagesNameTheField() {
        #expect(LoRAError.invalidConfig("r must be positive, got 0").description == "invalid LoRA config: r must be positive, got 0")
    }
}
