// OpenBLAS CBLAS interface plus its thread-count and core-name extensions.
#ifndef TESSERA_CBLAS_SHIM_H
#define TESSERA_CBLAS_SHIM_H
#include <cblas.h>

static inline const char *tessera_blas_core_name(void) { return openblas_get_corename(); }
static inline const char *tessera_blas_config(void) { return openblas_get_config(); }
static inline int tessera_blas_num_threads(void) { return openblas_get_num_threads(); }
static inline void tessera_blas_set_num_threads(int n) { openblas_set_num_threads(n); }

#endif
