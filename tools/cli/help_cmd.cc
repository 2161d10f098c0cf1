// `nvmeoe help [COMMAND]` (nvme-cli's `nvme help`) and the check that the first argument names a
// command, so that a typo says "unknown command 'X'" and lists the commands instead of CLI11's
// "The following arguments were not expected".
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace nvmeoe::cli {

namespace {

void print_command_list(const CLI::App& app, FILE* out) {
  std::fprintf(out, "The following are all implemented sub-commands:\n");
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    std::fprintf(out, "  %-18s %s\n", sub->get_name().c_str(), sub->get_description().c_str());
  std::fprintf(out, "\nSee 'nvmeoe help <command>' for more information on a specific command\n");
}

}  // namespace

bool reject_unknown_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;  // --help, --version and the like: CLI11's
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      if (sub->check_name(arg)) return false;
    std::fprintf(stderr, "ERROR: unknown command '%s'\n", arg.c_str());
    print_command_list(app, stderr);
    return true;
  }
  return false;
}

Subcommand add_help_command(CLI::App& parent) {
  auto topic = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand("help", "Display help, for nvmeoe or one of its commands");
  app->add_option("command", *topic, "The command to explain");
  app->footer("Examples:\n  nvmeoe help\n  nvmeoe help connect");
  CLI::App* root = &parent;
  return {app, [root, topic] {
            if (topic->empty()) {
              std::printf("%s", root->help().c_str());
              print_command_list(*root, stdout);
              return 0;
            }
            for (const CLI::App* sub : root->get_subcommands([](const CLI::App*) { return true; }))
              if (sub->check_name(*topic)) {
                std::printf("%s", sub->help().c_str());
                return 0;
              }
            std::fprintf(stderr, "ERROR: unknown command '%s'\n", topic->c_str());
            print_command_list(*root, stderr);
            return 1;
          }};
}

}  // namespace nvmeoe::cli
