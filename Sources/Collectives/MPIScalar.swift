// Element types that collectives can move (`GroupScalar`, ProcessGroups), each mapped to its MPI
// datatype, and the reductions mapped to MPI's operations.
import CMPI
import ProcessGroups

/// A plain value type with a matching MPI datatype: every `GroupScalar`.
public typealias MPIScalar = GroupScalar

extension GroupScalar {
    /// The MPI datatype handle for this type.
    static var mpiDatatype: MPI_Datatype {
        switch groupScalarKind {
        case .float32: return tessera_mpi_float()
        case .float64: return tessera_mpi_double()
        case .int32: return tessera_mpi_int32()
        case .int64: return tessera_mpi_int64()
        case .uint8: return tessera_mpi_uint8()
        }
    }
}

extension ReduceOperation {
    var handle: MPI_Op {
        switch self {
        case .sum: return tessera_mpi_op_sum()
        case .max: return tessera_mpi_op_max()
        case .min: return tessera_mpi_op_min()
        }
    }
}
