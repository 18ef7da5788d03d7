// Element types that collectives can move, each mapped to its MPI datatype.
import CMPI

/// A plain value type with a matching MPI datatype.
public protocol MPIScalar: BitwiseCopyable, Sendable {
    /// The MPI datatype handle for this type.
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIScalar { public static var mpiDatatype: MPI_Datatype { tessera_mpi_float() } }
extension Double: MPIScalar { public static var mpiDatatype: MPI_Datatype { tessera_mpi_double() } }
extension Int32: MPIScalar { public static var mpiDatatype: MPI_Datatype { tessera_mpi_int32() } }
extension Int64: MPIScalar { public static var mpiDatatype: MPI_Datatype { tessera_mpi_int64() } }
extension UInt8: MPIScalar { public static var mpiDatatype: MPI_Datatype { tessera_mpi_uint8() } }

/// A reduction applied element-wise across ranks.
public enum ReduceOperation: Sendable, CustomStringConvertible {
    case sum, max, min

    var handle: MPI_Op {
        switch self {
        case .sum: return tessera_mpi_op_sum()
        case .max: return tessera_mpi_op_max()
        case .min: return tessera_mpi_op_min()
        }
    }

    public var description: String {
        switch self {
        case .sum: return "sum"
        case .max: return "max"
        case .min: return "min"
        }
    }
}
