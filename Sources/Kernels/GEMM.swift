// The one matrix-product entry point: row-major single-precision GEMM through OpenBLAS.
// Legend: C [m, n] = alpha · op(A) [m, k] · op(B) [k, n] + beta · C.
import CBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transposed

    @usableFromInline var cblas: CBLAS_TRANSPOSE {
        self == .none ? CblasNoTrans : CblasTrans
    }
}

/// Row-major `C = alpha · op(A) · op(B) + beta · C`.
///
/// - Parameters:
///   - a: `op(A)` is `[m, k]`; stored `[m, lda]` when not transposed, `[k, lda]` when transposed.
///   - b: `op(B)` is `[k, n]`; stored `[k, ldb]` when not transposed, `[n, ldb]` when transposed.
///   - c: `[m, ldc]`.
@inlinable
public func sgemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
    if m == 0 || n == 0 { return }
    StepProfile.measure(.gemm) {
        cblas_sgemm(
            CblasRowMajor, transA.cblas, transB.cblas,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }
}

/// Row-major `C = alpha · op(A) · op(B) + beta · C` with tightly packed operands (leading
/// dimensions follow from the shapes).
@inlinable
public func sgemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>
) {
    sgemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
          a: a, lda: transA == .none ? k : m,
          b: b, ldb: transB == .none ? n : k,
          beta: beta, c: c, ldc: n)
}
