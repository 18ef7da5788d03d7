import Testing
@testable import Collectives

@Suite struct CollectivesErrorTests {
    @Test func mpiErrorNamesTheCall() {
        let error = CollectivesError.mpi(call: "MPI_Allreduce", code: 3, message: "MPI_ERR_BUFFER: invalid buffer pointer")
        #expect(error.description == "MPI_Allreduce failed (MPI error 3): MPI_ERR_BUFFER: invalid buffer pointer")
    }
}
