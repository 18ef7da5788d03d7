import Testing
@testable import ModelFormats

@Suite struct ModelFormatsErrorTests {
    @Test func messagesNameTheFile() {
        let error = ModelFormatsError.malformed(file: "m.gguf", detail: "tensor count 99 exceeds file size")
        #expect(error.description == "m.gguf: malformed: tensor count 99 exceeds file size")
    }
}
