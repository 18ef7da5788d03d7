import Testing
@testable import Quantization

@Suite struct GGMLTypeTests {
    @Test func blockGeometryMatchesGGML() {
        #expect(GGMLType.q4_1.byteCount(elements: 576) == 18 * 20)
        #expect(GGMLType.q8_0.byteCount(elements: 64) == 68)
        #expect(GGMLType.q6_K.byteCount(elements: 512) == 420)
        #expect(GGMLType.f32.byteCount(elements: 3) == 12)
    }

    @Test func partialBlocksAndOverflowAreRejected() {
        #expect(GGMLType.q4_0.byteCount(elements: 33) == nil)
        #expect(GGMLType.f64.byteCount(elements: Int.max) == nil)
        #expect(GGMLType.f32.byteCount(elements: -4) == nil)
    }
}
