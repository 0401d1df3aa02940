# Fails when a heavy dependency is included outside the one module DESIGN.md allows:
# yaml-cpp only in sim/config, Boost.Graph only in sim/hw, Eigen only in sim/cost, and nothing
# from CUDA, cuBLAS or NCCL anywhere under sim/; Open MPI only in sim/dist/mpi/. Run at build time by moesim_check_includes.
file(GLOB_RECURSE files "${ROOT}/sim/*.hpp" "${ROOT}/sim/*.cpp")
set(rules
  "yaml-cpp/|sim/config/"
  "boost/graph|sim/hw/"
  "Eigen/|sim/cost/"
  "eigen3/|sim/cost/"
  "mpi.h|sim/dist/mpi/"
  "cuda|<none>"
  "cublas|<none>"
  "nccl|<none>")
set(bad "")
foreach(f IN LISTS files)
  file(RELATIVE_PATH rel "${ROOT}" "${f}")
  file(STRINGS "${f}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS includes)
    foreach(rule IN LISTS rules)
      string(REPLACE "|" ";" parts "${rule}")
      list(GET parts 0 needle)
      list(GET parts 1 allowed)
      string(REGEX MATCH "[<\"]${needle}" hit "${line}")
      if(hit)
        string(FIND "${rel}" "${allowed}" pos)
        if(NOT pos EQUAL 0)
          string(APPEND bad "\n  ${rel}: ${line}  (allowed only under ${allowed})")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "Forbidden includes (see DESIGN.md, 'may use'):${bad}")
endif()
