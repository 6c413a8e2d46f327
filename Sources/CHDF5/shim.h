// CHDF5: the HDF5 C interface (pkg-config `hdf5-serial`) for the Checkpoint target.
// HDF5's type and property-list ids are runtime globals behind macros that call H5open(), and its
// flags are casts; Swift imports neither, so each becomes a getter.
#ifndef GEMMATRAIN_CHDF5_SHIM_H
#define GEMMATRAIN_CHDF5_SHIM_H
#include <hdf5.h>

// Memory (native) datatypes.
static inline hid_t gt_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t gt_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t gt_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t gt_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t gt_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t gt_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }

// File (standard) datatypes: explicit byte order, so a file reads the same on every machine.
static inline hid_t gt_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t gt_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t gt_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t gt_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t gt_h5t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t gt_h5t_std_u64le(void) { return H5T_STD_U64LE; }

// Strings.
static inline hid_t gt_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t gt_h5t_variable(void) { return H5T_VARIABLE; }

// Property lists and their classes.
static inline hid_t gt_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t gt_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t gt_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t gt_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t gt_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t gt_h5p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t gt_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t gt_h5p_attribute_create(void) { return H5P_ATTRIBUTE_CREATE; }

// File access flags.
static inline unsigned gt_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned gt_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned gt_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned gt_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }

// Dataspaces.
static inline hid_t gt_h5s_all(void) { return H5S_ALL; }
static inline H5S_class_t gt_h5s_scalar(void) { return H5S_SCALAR; }
static inline H5S_class_t gt_h5s_simple(void) { return H5S_SIMPLE; }
static inline hsize_t gt_h5s_unlimited(void) { return H5S_UNLIMITED; }

// Errors, identifiers, addresses.
static inline hid_t gt_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t gt_h5i_invalid_hid(void) { return H5I_INVALID_HID; }
static inline haddr_t gt_haddr_undef(void) { return HADDR_UNDEF; }
#endif
