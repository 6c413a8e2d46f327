// CMPI: the MPI C interface (pkg-config `ompi-c`) for the Mesh target.
// Open MPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as casts of the addresses of
// library globals and MPI_IN_PLACE as a pointer cast; Swift imports neither, so each becomes a getter.
#ifndef GEMMATRAIN_CMPI_SHIM_H
#define GEMMATRAIN_CMPI_SHIM_H
#include <mpi.h>

// Communicators.
static inline MPI_Comm gt_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm gt_mpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm gt_mpi_comm_null(void) { return MPI_COMM_NULL; }

// Datatypes.
static inline MPI_Datatype gt_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype gt_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype gt_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype gt_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype gt_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype gt_mpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype gt_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype gt_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype gt_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Datatype gt_mpi_float_int(void) { return MPI_FLOAT_INT; }

// Reduction operations.
static inline MPI_Op gt_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op gt_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op gt_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op gt_mpi_prod(void) { return MPI_PROD; }
static inline MPI_Op gt_mpi_maxloc(void) { return MPI_MAXLOC; }
static inline MPI_Op gt_mpi_minloc(void) { return MPI_MINLOC; }
static inline MPI_Op gt_mpi_lor(void) { return MPI_LOR; }
static inline MPI_Op gt_mpi_land(void) { return MPI_LAND; }

// Buffers, statuses, requests.
static inline void *gt_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *gt_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *gt_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Request gt_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Info gt_mpi_info_null(void) { return MPI_INFO_NULL; }

// Error handlers and codes.
static inline MPI_Errhandler gt_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Errhandler gt_mpi_errors_are_fatal(void) { return MPI_ERRORS_ARE_FATAL; }
static inline int gt_mpi_success(void) { return MPI_SUCCESS; }
static inline int gt_mpi_err_other(void) { return MPI_ERR_OTHER; }
static inline int gt_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

// Thread levels (MPI_Init_thread).
static inline int gt_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int gt_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int gt_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int gt_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

// Constants for MPI_Comm_split, point-to-point and MPI_Comm_compare.
static inline int gt_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline int gt_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int gt_mpi_any_tag(void) { return MPI_ANY_TAG; }
static inline int gt_mpi_proc_null(void) { return MPI_PROC_NULL; }
static inline int gt_mpi_ident(void) { return MPI_IDENT; }
static inline int gt_mpi_congruent(void) { return MPI_CONGRUENT; }
#endif
