// `moesim import hf config.json`: turns a Hugging Face config.json into a moesim model card.
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/hf_import.hpp"

namespace moesim::cli {

int run_import(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"output", true, "FILE", "write the model card to FILE (default: standard output)"}};
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << "usage: moesim import hf CONFIG.json [--output models/NAME.yaml]\n\n"
                   "Reads a Hugging Face config.json and writes a moesim model card (YAML). "
                   "Supported\narchitectures:";
      for (const auto a : llm::supported_hf_architectures()) std::cout << " " << a;
      std::cout << ".\nKeys the config leaves out take the default of the family's transformers "
                   "configuration\nclass, marked '# transformers default (<class>): <key> absent'; "
                   "dimensions have no\ndefault. Facts no config key states are filled by family "
                   "rules and marked\n'# inferred from architecture family'. See models/README.md, "
                   "\"Importing a Hugging\nFace config\".\n\n"
                << format_options(specs);
      return 0;
    }
  }
  const Args args("import", words, specs);
  const auto& pos = args.positional();
  const SourceLocation where{"<command line>", 0, 0};
  if (pos.size() != 2 || pos[0] != "hf") {
    throw ConfigError(where, "moesim import", "'hf' and a config.json path",
                      std::to_string(pos.size()) + " words");
  }
  if (const auto out = args.value("output")) check_writable(*out, "--output");
  const std::string card = llm::import_hf_config(config::ConfigNode::load_file(pos[1]));
  if (const auto out = args.value("output")) {
    write_text_file(*out, card, "--output");
  } else {
    std::cout << card;
  }
  return 0;
}

}  // namespace moesim::cli
