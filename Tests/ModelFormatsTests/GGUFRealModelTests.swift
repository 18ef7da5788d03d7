import Foundation
import Quantization
import TestSupport
import Testing
@testable import ModelFormats

@Suite struct GGUFRealModelTests {
    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func parsesTheDefaultModel() throws {
        let start = ContinuousClock.now
        let file = try GGUFFile(path: TestPaths.defaultModel.path)
        let elapsed = ContinuousClock.now - start
        #expect(file.version == 3)
        #expect(file.tensors.count == 272)
        #expect(file.alignment == 32)
        #expect(file.metadata["general.architecture"]?.string == "llama")
        #expect(file.metadata["llama.block_count"]?.int == 30)
        #expect(file.metadata["tokenizer.ggml.tokens"]?.stringArray?.count == 49152)
        #expect(file.metadataKeys.count == file.metadata.count)
        #expect(file.metadataKeys.first == "general.architecture")

        let q = try #require(file.tensor(named: "blk.0.attn_q.weight"))
        #expect(q.type == .q4_1)
        #expect(q.dimensions == [576, 576])
        #expect(q.byteCount == 576 * 576 / 32 * 20)
        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [576, 49152])
        #expect(embedding.elementCount == 576 * 49152)
        #expect(file.data(for: embedding).count == embedding.byteCount)
        #expect(file.tensor(named: "no.such.tensor") == nil)

        // Debug builds are several times slower than release (budget there: < 0.5 s).
        #expect(elapsed < .seconds(10), "parsing took \(elapsed)")
    }

    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func tensorsAreAlignedAndInsideTheFile() throws {
        let file = try GGUFFile(path: TestPaths.defaultModel.path)
        for tensor in file.tensors {
            #expect(tensor.offset % file.alignment == 0)
            #expect(tensor.offset >= file.dataOffset)
            #expect(tensor.offset + tensor.byteCount <= file.fileSize)
        }
    }
}
