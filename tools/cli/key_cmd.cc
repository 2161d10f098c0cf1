// nvme-cli's DH-HMAC-CHAP key commands: gen-dhchap-key (a secret in the DHHC-1 representation, for
// --dhchap-secret and the target's dhchap_key) and check-dhchap-key, with nvme-cli 2.x's flags and
// output (nvme.c gen_dhchap_key / check_dhchap_key).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "cli/commands.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

namespace {

struct GenKeyArgs {
  std::string secret, nqn;
  unsigned key_len = 0, hmac = 0;
};

bool parse_hex(const std::string& text, std::vector<uint8_t>* out) {
  if (text.size() % 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(uint8_t(hi << 4 | lo));
  }
  return true;
}

int run_gen_dhchap_key(GenKeyArgs a) {
  if (a.hmac > 3) {
    std::fprintf(stderr, "Invalid HMAC identifier %u\n", a.hmac);
    return 1;
  }
  auto hash = auth::HashId(a.hmac);
  // nvme-cli: the key length follows the hash, and must match it when both are given.
  if (a.hmac > 0) {
    unsigned want = unsigned(auth::hash_len(hash));
    if (a.key_len == 0) {
      a.key_len = want;
    } else if (a.key_len != want) {
      std::fprintf(stderr, "Invalid key length %u for %s\n", a.key_len, auth::hash_name(hash).c_str());
      return 1;
    }
  } else if (a.key_len == 0) {
    a.key_len = 32;
  }
  if (a.key_len != 32 && a.key_len != 48 && a.key_len != 64) {
    std::fprintf(stderr, "Invalid key length %u (32, 48 or 64 bytes)\n", a.key_len);
    return 1;
  }
  std::vector<uint8_t> secret;
  if (a.secret.empty()) {
    secret.assign(a.key_len, 0);
    if (Status s = auth::random_bytes(secret); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return 1;
    }
  } else {
    if (!parse_hex(a.secret, &secret)) {
      std::fprintf(stderr, "Invalid secret: hexadecimal digits expected\n");
      return 1;
    }
    if (secret.size() != a.key_len) {
      std::fprintf(stderr, "Invalid key length (%zu bytes; %u expected)\n", secret.size(), a.key_len);
      auth::wipe(secret);
      return 1;
    }
  }
  std::string nqn = a.nqn.empty() ? default_hostnqn() : a.nqn;
  auto text = auth::generate_secret_text(hash, secret, nqn);
  auth::wipe(secret);
  if (!text) {
    std::fprintf(stderr, "%s\n", text.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", text->c_str());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int run_check_dhchap_key(const std::string& key) {
  auto s = auth::parse_secret(key);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.status().message().c_str());
    return 1;
  }
  std::printf("Key is valid (HMAC %d, length %zu, CRC %08x)\n", int(s->transform()), s->key().size(),
              auth::crc32_ieee(s->key()));
  return 0;
}

}  // namespace

std::vector<Subcommand> add_key_commands(CLI::App& parent) {
  std::vector<Subcommand> out;
  {
    auto a = std::make_shared<GenKeyArgs>();
    CLI::App* app = parent.add_subcommand(
        "gen-dhchap-key", "Generate a DH-HMAC-CHAP secret (DHHC-1:xx:...:) for --dhchap-secret and dhchap_key");
    app->add_option("-s,--secret", a->secret, "The secret in hexadecimal digits (default: random)");
    app->add_option("-l,--key-length", a->key_len, "Length of the secret: 32, 48 or 64 bytes");
    app->add_option("-n,--nqn", a->nqn, "Host NQN for the key transformation (default: /etc/nvme/hostnqn)");
    app->add_option("-m,--hmac", a->hmac,
                    "Hash of the key transformation: 0 none, 1 SHA-256, 2 SHA-384, 3 SHA-512 (default 0)");
    app->footer(
        "As nvme-cli 2.x: with -m 1..3 the printed key is HMAC(secret, NQN || \"NVMe-over-Fabrics\"), and both\n"
        "ends transform it again with the NQN of its side when they use it.\n\n"
        "Examples:\n"
        "  nvmeoe gen-dhchap-key\n"
        "  nvmeoe gen-dhchap-key -m 1 -n nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0034-5a10-8052-b4c04f333232\n"
        "  nvmeoe gen-dhchap-key > /etc/nvme/dhchap.key && chmod 600 /etc/nvme/dhchap.key");
    out.push_back({app, [a] { return run_gen_dhchap_key(*a); }});
  }
  {
    auto key = std::make_shared<std::string>();
    CLI::App* app = parent.add_subcommand("check-dhchap-key", "Check a DH-HMAC-CHAP secret (format, length, CRC)");
    app->add_option("-k,--key", *key, "The secret (DHHC-1:xx:...:)")->required();
    app->footer("Example:\n  nvmeoe check-dhchap-key -k \"$(cat /etc/nvme/dhchap.key)\"");
    out.push_back({app, [key] { return run_check_dhchap_key(*key); }});
  }
  return out;
}

}  // namespace nvmeoe::cli
