// Process groups of threads in one process, so `swift test` runs tensor- and data-parallel code
// without MPI (docs/architecture.md §14). One `ThreadedProcessGroup` per rank, all of a group
// sharing one hub: a barrier, a board where each rank publishes the buffer of a collective, and
// mailboxes for point-to-point messages (buffered at send, FIFO per sender, receiver and tag).
// Reductions combine in rank order (rank 0 first), so every rank gets the same bits. A started
// allReduce runs when it is waited for (ranks wait in the order they started, as
// GradientSynchronizer does); `test()` reports it unfinished until then. A rank that waits more
// than `ThreadedHub.timeout` at a barrier (another rank failed) stops the test process with a
// message rather than hanging it.

import Foundation
import ProcessGroups

/// What the ranks of one group share.
public final class ThreadedHub: @unchecked Sendable {
    public let size: Int
    /// Seconds a rank waits for the others before the process is stopped.
    public static let timeout: Double = 600
    /// Per rank, the buffer it publishes (each rank writes only its own entry, between barriers).
    fileprivate let board: UnsafeMutablePointer<(pointer: UnsafeRawPointer?, count: Int)>
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var mail: [String: [[Float]]] = [:]

    public init(size: Int) {
        precondition(size >= 1, "a group has at least one rank")
        self.size = size
        board = .allocate(capacity: size)
        board.initialize(repeating: (nil, 0), count: size)
    }

    deinit { board.deallocate() }

    /// The groups of every rank, in rank order.
    public static func groups(size: Int) -> [ThreadedProcessGroup] {
        let hub = ThreadedHub(size: size)
        return (0..<size).map { ThreadedProcessGroup(hub: hub, rank: $0) }
    }

    fileprivate func barrier() {
        condition.lock()
        defer { condition.unlock() }
        let current = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
            return
        }
        let deadline = Date(timeIntervalSinceNow: Self.timeout)
        while current == generation {
            if !condition.wait(until: deadline) && current == generation {
                fatalError("ThreadedProcessGroup: a rank waited \(Self.timeout) s at a barrier of \(size); another rank failed or called a different collective")
            }
        }
    }

    fileprivate func post(_ message: [Float], from: Int, to: Int, tag: Int) {
        condition.lock()
        mail["\(from)>\(to)#\(tag)", default: []].append(message)
        condition.broadcast()
        condition.unlock()
    }

    fileprivate func take(from: Int, to: Int, tag: Int) -> [Float] {
        condition.lock()
        defer { condition.unlock() }
        let key = "\(from)>\(to)#\(tag)"
        let deadline = Date(timeIntervalSinceNow: Self.timeout)
        while mail[key, default: []].isEmpty {
            if !condition.wait(until: deadline) && mail[key, default: []].isEmpty {
                fatalError("ThreadedProcessGroup: rank \(to) waited \(Self.timeout) s for a message from rank \(from), tag \(tag)")
            }
        }
        return mail[key]!.removeFirst()
    }
}

/// One rank of a group of threads.
public final class ThreadedProcessGroup: ProcessGroup, @unchecked Sendable {
    public let hub: ThreadedHub
    public let rank: Int
    public var size: Int { hub.size }
    /// Receives started and not yet waited for, by handle.
    private var receives: [Int: (buffer: UnsafeMutablePointer<Float>, count: Int, peer: Int, tag: Int)] = [:]
    private var nextHandle = 0
    /// Collectives this rank has run (every kind, nonblocking ones when waited for).
    public private(set) var collectives = 0

    public init(hub: ThreadedHub, rank: Int) {
        precondition((0..<hub.size).contains(rank), "rank \(rank) outside 0..<\(hub.size)")
        self.hub = hub
        self.rank = rank
    }

    public func allReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws {
        switch T.groupScalarKind {
        case .float32: reduce(buffer, as: Float.self, op)
        case .float64: reduce(buffer, as: Double.self, op)
        case .int32: reduce(buffer, as: Int32.self, op)
        case .int64: reduce(buffer, as: Int64.self, op)
        case .uint8: reduce(buffer, as: UInt8.self, op)
        }
    }

    private func reduce<T, U: AdditiveArithmetic & Comparable>(_ buffer: UnsafeMutableBufferPointer<T>, as _: U.Type, _ op: ReduceOperation) {
        collectives += 1
        let count = buffer.count
        hub.board[rank] = (buffer.baseAddress.map { UnsafeRawPointer($0) }, count)
        hub.barrier()
        for r in 0..<size { precondition(hub.board[r].count == count, "allReduce: rank \(r) reduces \(hub.board[r].count) elements, rank \(rank) \(count)") }
        var result = [U]()
        if count > 0 {
            let inputs = (0..<size).map { hub.board[$0].pointer!.assumingMemoryBound(to: U.self) }
            result = (0..<count).map { i in
                var value = inputs[0][i]
                for r in 1..<size {
                    switch op {
                    case .sum: value = value + inputs[r][i]
                    case .max: value = Swift.max(value, inputs[r][i])
                    case .min: value = Swift.min(value, inputs[r][i])
                    }
                }
                return value
            }
        }
        hub.barrier()   // everyone has read before anyone writes
        if count > 0 {
            let out = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: U.self)
            for i in 0..<count { out[i] = result[i] }
        }
        hub.barrier()
    }

    public func startAllReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws -> any PendingReduction {
        DeferredReduction { [self] in try allReduce(buffer, op) }
    }

    public func allGatherV<T: GroupScalar>(_ source: UnsafeBufferPointer<T>, counts: [Int], into destination: UnsafeMutableBufferPointer<T>) throws {
        collectives += 1
        hub.board[rank] = (source.baseAddress.map { UnsafeRawPointer($0) }, source.count)
        hub.barrier()
        // Every rank sees every rank's count, so all reach the same verdict.
        let actual = (0..<size).map { hub.board[$0].count }
        let problem: String?
        if counts != actual {
            problem = "allGatherV: counts \(counts) disagree with the counts the ranks send \(actual)"
        } else if destination.count != actual.reduce(0, +) {
            problem = "allGatherV: destination holds \(destination.count) elements, counts sum to \(actual.reduce(0, +))"
        } else {
            problem = nil
            var offset = 0
            for r in 0..<size {
                if actual[r] > 0 {
                    (destination.baseAddress! + offset).update(from: hub.board[r].pointer!.assumingMemoryBound(to: T.self), count: actual[r])
                }
                offset += actual[r]
            }
        }
        hub.barrier()
        if let problem { throw ProcessGroupError.invalidArgument(problem) }
    }

    public func broadcast<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        guard (0..<size).contains(root) else { throw ProcessGroupError.invalidArgument("broadcast: root \(root) is outside 0..<\(size)") }
        collectives += 1
        hub.board[rank] = (buffer.baseAddress.map { UnsafeRawPointer($0) }, buffer.count)
        hub.barrier()
        let count = hub.board[root].count
        precondition(count == buffer.count, "broadcast: root sends \(count) elements, rank \(rank) expects \(buffer.count)")
        if rank != root, count > 0 {
            buffer.baseAddress!.update(from: hub.board[root].pointer!.assumingMemoryBound(to: T.self), count: count)
        }
        hub.barrier()
    }

    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int {
        guard (0..<size).contains(peer), peer != rank else { throw ProcessGroupError.invalidArgument("startSend: peer \(peer)") }
        hub.post(Array(UnsafeBufferPointer(start: buffer, count: count)), from: rank, to: peer, tag: tag)
        nextHandle += 1
        return nextHandle
    }

    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int {
        guard (0..<size).contains(peer), peer != rank else { throw ProcessGroupError.invalidArgument("startReceive: peer \(peer)") }
        nextHandle += 1
        receives[nextHandle] = (buffer, count, peer, tag)
        return nextHandle
    }

    public func waitTransfer(_ handle: Int) throws {
        guard let r = receives.removeValue(forKey: handle) else { return }   // a send: buffered already
        let message = hub.take(from: r.peer, to: rank, tag: r.tag)
        guard message.count == r.count else {
            throw ProcessGroupError.invalidArgument("receive from rank \(r.peer): expected \(r.count) floats, got \(message.count)")
        }
        r.buffer.update(from: message, count: r.count)
    }
}

/// A reduction run when it is first waited for.
private final class DeferredReduction: PendingReduction {
    private var run: (() throws -> Void)?
    init(_ run: @escaping () throws -> Void) { self.run = run }
    var isComplete: Bool { run == nil }
    func wait() throws {
        guard let run else { return }
        self.run = nil
        try run()
    }
    func test() throws -> Bool { isComplete }
}

/// The groups of every rank of a `tp × dp` mesh of threads: world rank w has coordinates
/// (tp index, dp index) = (w % tp, w / tp), as `MeshShape` numbers them.
public struct ThreadedMesh: Sendable {
    public let tp: Int
    public let dp: Int
    /// Per world rank: (world, tensor-parallel, data-parallel) group.
    public let groups: [(world: ThreadedProcessGroup, tensorParallel: ThreadedProcessGroup, dataParallel: ThreadedProcessGroup)]

    public init(tp: Int, dp: Int) {
        self.tp = tp
        self.dp = dp
        let world = ThreadedHub.groups(size: tp * dp)
        let tpGroups = (0..<dp).map { _ in ThreadedHub.groups(size: tp) }   // one per dp index
        let dpGroups = (0..<tp).map { _ in ThreadedHub.groups(size: dp) }   // one per tp index
        groups = (0..<(tp * dp)).map { w in (world[w], tpGroups[w / tp][w % tp], dpGroups[w % tp][w / tp]) }
    }
}

/// Runs `body(rank)` for `count` ranks, each on its own thread (8 MiB stack), and returns each
/// rank's result in rank order once all have finished.
public func runOnThreads<T>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, Error>] {
    let slots = (0..<count).map { _ in ThreadSlot<T>() }
    let done = DispatchSemaphore(value: 0)
    for rank in 0..<count {
        let slot = slots[rank]
        let thread = Thread {
            slot.result = Result { try body(rank) }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    for _ in 0..<count { done.wait() }
    return slots.map { $0.result! }
}

private final class ThreadSlot<T>: @unchecked Sendable { var result: Result<T, Error>? }
