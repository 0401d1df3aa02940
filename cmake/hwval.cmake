# hwval: built only where the CUDA toolkit, cuBLASLt and NCCL are present; skipped cleanly
# elsewhere. It links yaml-cpp and the CUDA runtime statically so that it runs on a bare GPU
# machine with no package registry (cuBLASLt and NCCL ship as shared libraries in the toolkit;
# the GPU machines carry the same toolkit).
find_package(CUDAToolkit QUIET)
find_path(MOESIM_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
find_library(MOESIM_NCCL_LIB nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib
             /usr/local/cuda/lib64)
if(CUDAToolkit_FOUND AND TARGET CUDA::cublasLt AND MOESIM_NCCL_INCLUDE AND MOESIM_NCCL_LIB
   AND EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/hwval/CMakeLists.txt")
  message(STATUS "hwval: CUDA ${CUDAToolkit_VERSION}, NCCL ${MOESIM_NCCL_LIB}: building hwval")
  add_subdirectory(hwval)
else()
  message(STATUS "hwval: CUDA toolkit, cuBLASLt or NCCL not found: hwval is skipped")
endif()
