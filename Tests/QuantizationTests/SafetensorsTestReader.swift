// A minimal safetensors reader for the NF4 reference cases (test-only; the real reader lives in
// ModelFormats). Layout: u64 LE header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data.
import Foundation

struct SafetensorsTestReader {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let bytes: Data
    }

    enum ReadError: Error, CustomStringConvertible {
        case malformed(String)
        var description: String {
            switch self { case .malformed(let why): return "bad safetensors file: \(why)" }
        }
    }

    let entries: [String: Entry]

    init(url: URL) throws {
        let data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw ReadError.malformed("shorter than 8 bytes") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength > 0, 8 + headerLength <= data.count else { throw ReadError.malformed("header length \(headerLength)") }
        let json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength)))
        guard let header = json as? [String: Any] else { throw ReadError.malformed("header is not an object") }
        let base = 8 + headerLength
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
                  offsets.count == 2, offsets[0] <= offsets[1], base + offsets[1] <= data.count
            else { throw ReadError.malformed("entry \(name)") }
            entries[name] = Entry(dtype: dtype, shape: shape, bytes: data.subdata(in: (base + offsets[0])..<(base + offsets[1])))
        }
        self.entries = entries
    }

    func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw ReadError.malformed("no tensor \(name)") }
        return e
    }

    func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        guard e.dtype == "F32", e.bytes.count % 4 == 0 else { throw ReadError.malformed("\(name) is \(e.dtype)") }
        return e.bytes.withUnsafeBytes { raw in
            (0..<(e.bytes.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    func bytes(_ name: String) throws -> [UInt8] {
        let e = try entry(name)
        guard e.dtype == "U8" else { throw ReadError.malformed("\(name) is \(e.dtype)") }
        return [UInt8](e.bytes)
    }
}
