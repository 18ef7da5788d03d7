import Foundation
import Testing
@testable import ModelFormats

@Suite struct NumpyArrayWriterTests {
    /// Headers as numpy 2.4.6's `np.lib.format.write_array_header_1_0` writes them for '<f4' C-order
    /// arrays: the dictionary, then this many spaces, then '\n' (128 bytes in all).
    @Test(arguments: [
        (2, 3, 58), (91, 49152, 53), (0, 7, 58), (123_456_789_012, 1, 47),
    ])
    func headerIsNumpys(rows: Int, columns: Int, spaces: Int) {
        let dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        let body = Array((dictionary + String(repeating: " ", count: spaces) + "\n").utf8)
        let expected: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(body.count & 0xff), UInt8(body.count >> 8)] + body
        #expect(expected.count == 128)
        #expect(NumpyArrayWriter.header(rows: rows, columns: columns) == expected)
    }

    @Test func writesRowsInOrderAndPublishesOnlyWhenComplete() throws {
        let path = TestFiles.path(".npy")
        let writer = try NumpyArrayWriter(path: path, rows: 2, columns: 3)
        try [Float(1), 2, 3, 4, 5, 6].withUnsafeBufferPointer { values in
            try writer.append(rowsOf: values.baseAddress!, count: 1)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(throws: ModelFormatsError.self) { try writer.finish() }
            #expect(throws: ModelFormatsError.self) { try writer.append(rowsOf: values.baseAddress!, count: 2) }
            try writer.append(rowsOf: values.baseAddress! + 3, count: 1)
        }
        try writer.finish()
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        // numpy.save(np.array([[1, 2, 3], [4, 5, 6]], np.float32)) after the 128-byte header.
        let data = "0000803f0000004000004040000080400000a0400000c040"
        #expect(bytes.count == 128 + 24)
        #expect(bytes[128...].map { String(format: "%02x", $0) }.joined() == data)
    }
}
