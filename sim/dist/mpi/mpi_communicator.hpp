#pragma once
/// \file
/// The Open MPI communicator (built only where CMake finds MPI; mpi.h stays in the .cpp).

#include <memory>

#include "sim/dist/communicator.hpp"

namespace moesim::dist {

/// Initialises MPI (MPI_THREAD_FUNNELED: only the calling thread talks MPI) and returns the
/// communicator of MPI_COMM_WORLD; MPI is finalised when it is destroyed.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace moesim::dist
