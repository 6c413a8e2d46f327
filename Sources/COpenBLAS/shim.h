// COpenBLAS: the CBLAS interface of OpenBLAS (pkg-config `openblas`) plus its threading controls.
#ifndef GEMMATRAIN_COPENBLAS_SHIM_H
#define GEMMATRAIN_COPENBLAS_SHIM_H
#include <cblas.h>

static inline enum CBLAS_ORDER gt_cblas_row_major(void) { return CblasRowMajor; }
static inline enum CBLAS_TRANSPOSE gt_cblas_no_trans(void) { return CblasNoTrans; }
static inline enum CBLAS_TRANSPOSE gt_cblas_trans(void) { return CblasTrans; }
#endif
