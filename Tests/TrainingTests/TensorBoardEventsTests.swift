import Testing
@testable import Training

/// The event-file encoding against bytes written by tensorboard 2.20.0's own `RecordWriter` for
/// the same `event_pb2.Event` (the check that tensorboard reads a whole run back is
/// scripts/check_tensorboard.sh).
@Suite struct TensorBoardEventsTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func crc32cKnownAnswer() {
        #expect(TensorBoardEvents.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(TensorBoardEvents.crc32c([]) == 0)
    }

    @Test func recordsEqualTensorBoardsOwn() {
        #expect(TensorBoardEvents.fileVersion(wallTime: 1.5)
            == Self.hex("1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c"))
        #expect(TensorBoardEvents.scalars([("train/loss", 2.5), ("eval/loss", -0.125)], step: 3, wallTime: 1.5)
            == Self.hex("3200000000000000241956ec09000000000000f83f10032a250a110a0a747261696e2f6c6f737315000020400a100a096576616c2f6c6f737315000000bee3f0c14c"))
    }
}
