// Accessors for the MPI handles that Swift cannot import: OpenMPI defines them as macros that
// take the address of global structs, so they are wrapped in prefixed static inline functions.
#ifndef TESSERA_CMPI_SHIM_H
#define TESSERA_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm tessera_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm tessera_mpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm tessera_mpi_comm_null(void) { return MPI_COMM_NULL; }

static inline MPI_Datatype tessera_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype tessera_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype tessera_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype tessera_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype tessera_mpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype tessera_mpi_char(void) { return MPI_CHAR; }

static inline MPI_Op tessera_mpi_op_sum(void) { return MPI_SUM; }
static inline MPI_Op tessera_mpi_op_max(void) { return MPI_MAX; }
static inline MPI_Op tessera_mpi_op_min(void) { return MPI_MIN; }

static inline void *tessera_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler tessera_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request tessera_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *tessera_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int tessera_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline int tessera_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int tessera_mpi_success(void) { return MPI_SUCCESS; }
static inline int tessera_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int tessera_mpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int tessera_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }

#endif
