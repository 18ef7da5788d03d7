// The hand-over of a KV head that two tensor-parallel ranks hold (LlamaShard.keyValueTransfers):
// its owner projects k and v and sends them (after RoPE) to the other holder; in the backward
// the other holder sends its partial dk, dv (its query heads' share, before RoPE's backward)
// and the owner adds them to its own before the k/v projections' backward. Messages are
// nonblocking and posted early, so each rank keeps computing while they travel: in a layer's
// forward, receives are posted first, the owner sends right after its k/v GEMM and the other
// waits only before attention; in the backward the owner posts its receive at the start of
// the attention half and waits only after its own attention backward. Every send completes
// before the layer ends, so the next use of a message buffer never races it.
// Legend: N = tokens, D = head dim, KL = G_local·D; one message is [2, N, D] (k then v, or dk
// then dv) in `workspace.keyValueMessages`, slot = the transfer's index in the shard.

import Kernels
import ProcessGroups

extension Llama {
    /// Message tags: forward k, v and backward dk, dv never match each other.
    static let keyValueTag = 0x4B56, keyValueGradientTag = 0x4B57

    /// Forward, first: posts the receive of every KV head this rank does not project.
    func postKeyValueReceives(_ ctx: PassContext) throws {
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where !transfer.sends {
            ctx.workspace.transferHandles[slot] = try ctx.group.startReceive(
                message(slot, ctx), count: 2 * ctx.tokens * config.headDim, from: transfer.peer, tag: Self.keyValueTag)
        }
    }

    /// Forward, after k (with RoPE) and v (`[N, KL]` each): sends each head this rank projects to
    /// the other holders.
    func sendKeyValues(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, _ ctx: PassContext) throws {
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where transfer.sends {
            let m = message(slot, ctx), column = localColumn(transfer.kvHead, ctx)
            copyColumns(from: k + column, into: m, ctx)
            copyColumns(from: v + column, into: m + ctx.tokens * config.headDim, ctx)
            ctx.workspace.transferHandles[slot] = try ctx.group.startSend(
                m, count: 2 * ctx.tokens * config.headDim, to: transfer.peer, tag: Self.keyValueTag)
        }
    }

    /// Forward, before attention: waits for the received heads and places them in k and v.
    func receiveKeyValues(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, _ ctx: PassContext) throws {
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where !transfer.sends {
            try ctx.group.waitTransfer(ctx.workspace.transferHandles[slot])
            let m = message(slot, ctx), column = localColumn(transfer.kvHead, ctx)
            placeColumns(m, into: k + column, add: false, ctx)
            placeColumns(m + ctx.tokens * config.headDim, into: v + column, add: false, ctx)
        }
    }

    /// Backward, at the start of the attention half: posts the receive of the partial dk, dv of
    /// every head this rank projects for another holder.
    func postKeyValueGradientReceives(_ ctx: PassContext) throws {
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where transfer.sends {
            ctx.workspace.transferHandles[slot] = try ctx.group.startReceive(
                message(slot, ctx), count: 2 * ctx.tokens * config.headDim, from: transfer.peer, tag: Self.keyValueGradientTag)
        }
    }

    /// Backward, after attention's backward: sends this rank's partial dk, dv of each received
    /// head to its owner.
    func sendKeyValueGradients(_ ctx: PassContext) throws {
        let ws = ctx.workspace
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where !transfer.sends {
            let m = message(slot, ctx), column = localColumn(transfer.kvHead, ctx)
            copyColumns(from: ws.dk.pointer + column, into: m, ctx)
            copyColumns(from: ws.dv.pointer + column, into: m + ctx.tokens * config.headDim, ctx)
            ws.transferHandles[slot] = try ctx.group.startSend(
                m, count: 2 * ctx.tokens * config.headDim, to: transfer.peer, tag: Self.keyValueGradientTag)
        }
    }

    /// Backward, before RoPE's backward: adds each other holder's partial dk, dv (in transfer
    /// order) to this rank's.
    func addKeyValueGradients(_ ctx: PassContext) throws {
        let ws = ctx.workspace
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where transfer.sends {
            try ctx.group.waitTransfer(ws.transferHandles[slot])
            let m = message(slot, ctx), column = localColumn(transfer.kvHead, ctx)
            placeColumns(m, into: ws.dk.pointer + column, add: true, ctx)
            placeColumns(m + ctx.tokens * config.headDim, into: ws.dv.pointer + column, add: true, ctx)
        }
    }

    /// Completes the sends of this layer's forward (`gradients` false) or backward (true).
    func finishKeyValueSends(gradients: Bool, _ ctx: PassContext) throws {
        for (slot, transfer) in ctx.shard.keyValueTransfers.enumerated() where transfer.sends != gradients {
            try ctx.group.waitTransfer(ctx.workspace.transferHandles[slot])
        }
    }

    /// `[2, N, D]` message of transfer `slot`.
    private func message(_ slot: Int, _ ctx: PassContext) -> UnsafeMutablePointer<Float> {
        ctx.workspace.keyValueMessages.pointer + slot * 2 * ctx.workspace.maxTokens * config.headDim
    }

    /// Column of KV head `kvHead` (global) in the local `[N, KL]` k, v, dk, dv.
    private func localColumn(_ kvHead: Int, _ ctx: PassContext) -> Int {
        (kvHead - ctx.shard.kvHeads.lowerBound) * config.headDim
    }

    /// `[N, D]` contiguous from D columns of an `[N, KL]` matrix.
    private func copyColumns(from source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                             _ ctx: PassContext) {
        let d = config.headDim, stride = ctx.shard.keyValueWidthLocal
        StepProfile.measure(.elementwise) {
            for t in 0..<ctx.tokens { (destination + t * d).update(from: source + t * stride, count: d) }
        }
    }

    /// D columns of an `[N, KL]` matrix from `[N, D]` contiguous: overwritten, or added to.
    private func placeColumns(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, add: Bool,
                              _ ctx: PassContext) {
        let d = config.headDim, stride = ctx.shard.keyValueWidthLocal
        StepProfile.measure(.elementwise) {
            for t in 0..<ctx.tokens {
                let row = destination + t * stride, m = source + t * d
                if add {
                    for i in 0..<d { row[i] += m[i] }
                } else {
                    row.update(from: m, count: d)
                }
            }
        }
    }
}
