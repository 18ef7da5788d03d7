// What a training step keeps of each layer's forward for the backward (docs/architecture.md §9):
//   full       only the residual stream entering each layer; the backward recomputes the whole
//              layer (one extra forward of every layer: least memory, ~1/3 more GEMM work);
//   selective  also the GEMM outputs k, v (after RoPE), xMid (the attention half's output) and
//              gate, and the norms' rstd; the backward recomputes the element-wise work (both
//              RMSNorm outputs, SwiGLU) and two GEMMs: q = q_proj(xn1) with its RoPE and
//              up = up_proj(xn2) (about 1/4 of a layer's projections run twice; not keeping up
//              saves an [N, FL] buffer per layer: 189 MB of SmolLM2's 4 × 256-token step) and,
//              when o_proj carries LoRA, the attention output;
//   none       everything, one set of activations per layer.
// Legend: N = tokens, C = hidden, QL = H_local·D, KL = G_local·D, FL = F_local, L = layers.
// Per layer and token (floats): full 0 (plus one shared set), selective 2·KL + C + FL + 2 + 7·r
// (plus one shared set), none 3·C + 2·QL + 2·KL + 3·FL + 2 + 7·r.

/// How much of each layer's forward a training step keeps for the backward.
public enum ActivationCheckpointing: String, CaseIterable, Sendable, Codable {
    case full, selective, none

    /// The backward reruns layers' forward passes (full) or only their element-wise parts
    /// (selective).
    public var recomputes: Bool { self != .none }
}
