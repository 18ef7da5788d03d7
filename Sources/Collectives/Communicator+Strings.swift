// Text across ranks: gather every rank's string (host names, errors, identities).

extension Communicator {
    /// Every rank's `text`, in rank order, on every rank.
    public func allGather(string text: String) throws(CollectivesError) -> [String] {
        let bytes = Array(text.utf8)
        let lengths = try allGather([Int64(bytes.count)]).map { Int($0) }
        var all = [UInt8](repeating: 0, count: lengths.reduce(0, +))
        try bytes.withUnsafeBufferPointer { (source) throws(CollectivesError) in
            try all.withUnsafeMutableBufferPointer { (destination) throws(CollectivesError) in
                try allGatherV(source, counts: lengths, into: destination)
            }
        }
        var strings: [String] = []
        var start = 0
        for length in lengths {
            strings.append(String(decoding: all[start..<start + length], as: UTF8.self))
            start += length
        }
        return strings
    }
}
