// Multi-rank checks of the Collectives layer, run by scripts/test.sh as
// `mpirun -np N tessera-mpi-tests` (N = 1 also runs as a singleton without mpirun).
// Each check runs on every rank; a check fails if it fails on any rank. Rank 0 prints one line
// per check and the summary line `N passed, N failed`; the exit code is non-zero on failure.
import Collectives
import Foundation
import Kernels
import ProcessGroups

// The same kernel choice as the tessera executable, so the GEMM check covers what users run.
BLASLauncher.ensureFastKernels()

struct CheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(message()) }
}

let environment: MPIEnvironment
do {
    environment = try MPIEnvironment(requested: .funneled)
} catch {
    FileHandle.standardError.write(Data("MPI initialisation failed: \(error)\n".utf8))
    exit(1)
}
let world = environment.world
var checks: [(String, () throws -> Void)] = []
@MainActor func check(_ name: String, _ body: @escaping () throws -> Void) { checks.append((name, body)) }

check("allReduce sum of 1M floats is exact") {
    let n = 1 << 20
    var values = (0..<n).map { Float(($0 % 1000) + world.rank) }
    try values.withUnsafeMutableBufferPointer { try world.allReduce($0, .sum) }
    let ranks = world.size * (world.size - 1) / 2
    for i in stride(from: 0, to: n, by: 997) {
        try expect(values[i] == Float((i % 1000) * world.size + ranks), "element \(i): \(values[i])")
    }
}

check("allReduce max and min over Double, Int32, Int64") {
    let r = world.rank
    try expect(try world.allReduce([Double(r) + 0.5], .max) == [Double(world.size - 1) + 0.5], "Double max")
    try expect(try world.allReduce([Int32(r) - 7], .min) == [-7], "Int32 min")
    try expect(try world.allReduce([Int64(1) << 40 + Int64(r)], .sum)
        == [Int64(world.size) << 40 + Int64(world.size * (world.size - 1) / 2)], "Int64 sum")
}

check("allReduce out of place leaves the source untouched") {
    let source: [Float] = [1, 2, 3].map { $0 * Float(world.rank + 1) }
    var destination = [Float](repeating: -1, count: 3)
    try source.withUnsafeBufferPointer { s in
        try destination.withUnsafeMutableBufferPointer { d in try world.allReduce(s, into: d, .sum) }
    }
    let factor = Float(world.size * (world.size + 1) / 2)
    try expect(destination == [1 * factor, 2 * factor, 3 * factor], "got \(destination)")
    try expect(source == [1, 2, 3].map { $0 * Float(world.rank + 1) }, "source changed")
}

check("broadcast from every root") {
    for root in 0..<world.size {
        let values: [Int32] = world.rank == root ? [Int32(root), 42, -1] : []
        let received = try world.broadcast(values, root: root)
        try expect(received == [Int32(root), 42, -1], "root \(root): \(received)")
    }
}

check("allGather and allGatherV with uneven counts") {
    let gathered = try world.allGather([Float(world.rank), Float(world.rank) * 10])
    try expect(gathered == (0..<world.size).flatMap { [Float($0), Float($0) * 10] }, "allGather \(gathered)")
    let counts = (0..<world.size).map { $0 + 1 }
    let mine = [Double](repeating: Double(world.rank), count: world.rank + 1)
    var all = [Double](repeating: -1, count: counts.reduce(0, +))
    try mine.withUnsafeBufferPointer { s in
        try all.withUnsafeMutableBufferPointer { d in try world.allGatherV(s, counts: counts, into: d) }
    }
    try expect(all == (0..<world.size).flatMap { [Double](repeating: Double($0), count: $0 + 1) }, "allGatherV \(all)")
}

check("allGatherV with wrong counts fails on every rank") {
    // The last rank sends one element more than the counts say.
    let counts = [Int](repeating: 2, count: world.size)
    let mine = [Float](repeating: 1, count: world.rank == world.size - 1 ? 3 : 2)
    var all = [Float](repeating: 0, count: 2 * world.size)
    do {
        try mine.withUnsafeBufferPointer { s in
            try all.withUnsafeMutableBufferPointer { d in try world.allGatherV(s, counts: counts, into: d) }
        }
        throw CheckFailure("no error raised")
    } catch let error as CollectivesError {
        try expect(String(describing: error).contains("allGatherV"), "unexpected error \(error)")
    }
}

check("reduceScatter gives each rank its reduced block") {
    let block = 5
    let source = (0..<(block * world.size)).map { Float($0) }
    var mine = [Float](repeating: 0, count: block)
    try source.withUnsafeBufferPointer { s in
        try mine.withUnsafeMutableBufferPointer { d in try world.reduceScatter(s, into: d, .sum) }
    }
    let expected = (0..<block).map { Float((world.rank * block + $0) * world.size) }
    try expect(mine == expected, "got \(mine), expected \(expected)")
}

check("send and receive around a ring") {
    guard world.size > 1 else { return }
    let next = (world.rank + 1) % world.size, previous = (world.rank + world.size - 1) % world.size
    if world.rank % 2 == 0 {
        try world.send([Int64(world.rank)], to: next, tag: 3)
        let got = try world.receive(Int64.self, from: previous, tag: 3)
        try expect(got == [Int64(previous)], "got \(got)")
    } else {
        let got = try world.receive(Int64.self, from: previous, tag: 3)
        try world.send([Int64(world.rank)], to: next, tag: 3)
        try expect(got == [Int64(previous)], "got \(got)")
    }
}

check("split into even and odd groups, and a nil color") {
    guard let group = try world.split(color: world.rank % 2, key: world.rank) else { throw CheckFailure("no group") }
    let members = try group.allGather([Int32(world.rank)])
    try expect(members == (0..<world.size).filter { $0 % 2 == world.rank % 2 }.map(Int32.init), "members \(members)")
    let excluded = try world.split(color: world.rank == 0 ? nil : 1, key: 0)
    try expect((excluded == nil) == (world.rank == 0), "nil color")
    let copy = try world.duplicate()
    try expect(copy.size == world.size && copy.rank == world.rank, "duplicate")
    try expect(try copy.allReduce([Int32(1)]) == [Int32(world.size)], "duplicate allReduce")
}

check("nonblocking sends and receives through fixed slots, both ways at once, in order") {
    guard world.size > 1 else { return }
    // Every rank sends 2 messages of 100k floats to the next rank and receives the previous
    // rank's, with the receives posted before the sends (the step's order on the owner side).
    let next = (world.rank + 1) % world.size, previous = (world.rank + world.size - 1) % world.size
    let slots = TransferSlots(world, capacity: 4)
    let n = 100_000
    let outgoing = (0..<2).map { m in FloatBuffer((0..<n).map { Float(world.rank * 1_000_000 + m * n + $0) }) }
    let incoming = (0..<2).map { _ in FloatBuffer(count: n) }
    let receives = try incoming.map { try slots.startReceive($0.pointer, count: n, from: previous, tag: 7) }
    let sends = try outgoing.map { try slots.startSend($0.pointer, count: n, to: next, tag: 7) }
    for slot in receives + sends { try slots.wait(slot) }
    let arrived = (0..<2).map { m in incoming[m].array == (0..<n).map { Float(previous * 1_000_000 + m * n + $0) } }
    // Slots are reusable, more than `capacity` at once is refused, and waiting on a free slot
    // is an error, not a hang.
    let freeWaitFails = (try? slots.wait(receives[0])) == nil
    let small = FloatBuffer(count: 2), one = FloatBuffer([Float(world.rank)])
    let pending = try (0..<2).map { try slots.startReceive(small.pointer + $0, count: 1, from: previous, tag: 8) }
        + (0..<2).map { _ in try slots.startSend(one.pointer, count: 1, to: next, tag: 8) }
    let fifthRefused = (try? slots.startSend(one.pointer, count: 1, to: next, tag: 9)) == nil
    for slot in pending { try slots.wait(slot) }
    // The buffers must outlive the transfers (Swift may free an object after its last use).
    withExtendedLifetime((outgoing, incoming, small, one)) {}
    try expect(arrived == [true, true], "messages from rank \(previous) arrived as \(arrived)")
    try expect(freeWaitFails, "wait on a free slot succeeded")
    try expect(fifthRefused, "a fifth transfer started")
    try expect(small.array == [Float(previous), Float(previous)], "small messages \(small.array)")
}

check("nonblocking allReduce completes with wait") {
    var values = [Float](repeating: Float(world.rank + 1), count: 4096)
    try values.withUnsafeMutableBufferPointer { buffer in
        let pending = try world.startAllReduce(buffer, .sum)
        try pending.wait()
        try expect(pending.isComplete, "not complete after wait")
    }
    try expect(values.allSatisfy { $0 == Float(world.size * (world.size + 1) / 2) }, "value \(values[0])")
}

check("a communicator is a ProcessGroup: array gather of uneven counts, nonblocking allReduce, transfers") {
    // What the model, GradientSynchronizer and Trainer call, through the protocol.
    let group: any ProcessGroup = world
    let gathered = try group.allGatherV((0...group.rank).map { Float(group.rank * 10 + $0) })
    let wanted = (0..<group.size).map { r in (0...r).map { Float(r * 10 + $0) } }
    try expect(gathered == wanted, "gathered \(gathered)")
    var values = [Double](repeating: Double(group.rank + 1), count: 3)
    try values.withUnsafeMutableBufferPointer { buffer in
        let pending = try group.startAllReduce(buffer, .max)
        try pending.wait()
    }
    try expect(values == [Double](repeating: Double(group.size), count: 3), "max \(values)")
    guard group.size > 1 else { return }
    let next = (group.rank + 1) % group.size, previous = (group.rank + group.size - 1) % group.size
    let outgoing = FloatBuffer([Float(group.rank), 1]), incoming = FloatBuffer(count: 2)
    let receive = try group.startReceive(incoming.pointer, count: 2, from: previous, tag: 0x4B56)
    let send = try group.startSend(outgoing.pointer, count: 2, to: next, tag: 0x4B56)
    try group.waitTransfer(receive)
    try group.waitTransfer(send)
    withExtendedLifetime((outgoing, incoming)) {}
    try expect(incoming.array == [Float(previous), 1], "received \(incoming.array)")
}

check("a failure on one rank is agreed by every rank") {
    let problem: String? = world.rank == world.size - 1 ? "bad input on the last rank" : nil
    do {
        try world.agree(problem)
        throw CheckFailure("no error raised")
    } catch let error as CollectivesError {
        try expect(String(describing: error).contains("bad input on the last rank"), "message \(error)")
    }
    try world.agree(nil)
}

check("sgemm under the selected kernels matches an fp64 reference on odd shapes") {
    var state: UInt64 = 12345 &+ UInt64(world.rank)
    func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1   // uniform in [-1, 1)
    }
    for (m, n, k) in [(1, 1, 1), (7, 13, 5), (33, 65, 129), (255, 31, 577), (64, 1000, 576)] {
        for (ta, tb) in [(Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed)] {
            let a = (0..<(m * k)).map { _ in next() }, b = (0..<(k * n)).map { _ in next() }
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        sgemm(ta, tb, m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!)
                    }
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(ta == .none ? a[i * k + p] : a[p * m + i]) * Double(tb == .none ? b[p * n + j] : b[j * k + p])
                        sum += product
                        magnitude += abs(product)
                    }
                    // fp32 accumulation error grows like sqrt(k)·eps·Σ|a·b|; wrong kernels are off by O(1).
                    let tolerance = 4 * Double(k).squareRoot() * 6e-8 * magnitude + 1e-6
                    try expect(abs(Double(c[i * n + j]) - sum) <= tolerance,
                               "\(BLAS.coreName) m=\(m) n=\(n) k=\(k) \(ta)/\(tb) at (\(i),\(j)): \(c[i * n + j]) vs \(sum)")
                }
            }
        }
    }
}

var passed = 0, failed = 0
for (name, body) in checks {
    var localError: String?
    do { try body() } catch { localError = "rank \(world.rank): \(error)" }
    let failures = (try? world.allReduce([Int32(localError == nil ? 0 : 1)], .sum)[0]) ?? 1
    if let localError { FileHandle.standardError.write(Data("FAIL \(name): \(localError)\n".utf8)) }
    if failures == 0 { passed += 1 } else { failed += 1 }
    if world.isRoot { print("\(failures == 0 ? "PASS" : "FAIL") [np \(world.size)] \(name)") }
}
if world.isRoot {
    print("[np \(world.size)] \(BLASLauncher.note)")
    print("\(passed) passed, \(failed) failed")
}
try? environment.finalize()
exit(failed == 0 ? 0 : 1)
