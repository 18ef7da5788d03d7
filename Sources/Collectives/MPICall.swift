// The one checked wrapper every MPI call goes through: a non-success return code becomes a
// typed `CollectivesError` that names the call and carries MPI's own error string. Works because
// `MPIEnvironment` installs MPI_ERRORS_RETURN on the world communicator (inherited by splits).
import CMPI

/// Runs an MPI call and throws `CollectivesError.mpi` when it does not return MPI_SUCCESS.
@inline(__always)
func mpiCheck(_ call: StaticString, _ body: () -> Int32) throws(CollectivesError) {
    let code = body()
    if code != tessera_mpi_success() {
        throw CollectivesError.mpi(call: "\(call)", code: code, message: mpiErrorString(code))
    }
}

/// MPI's description of an error code.
func mpiErrorString(_ code: Int32) -> String {
    var length: Int32 = 0
    var text = [CChar](repeating: 0, count: Int(tessera_mpi_max_error_string()) + 1)
    guard MPI_Error_string(code, &text, &length) == tessera_mpi_success() else { return "unknown MPI error" }
    return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
