// Frontend kinds and the choice between them (frontend.h).
#include "frontend/frontend.h"

namespace nvmeoe {

const char* frontend_kind_name(FrontendKind kind) {
  switch (kind) {
    case FrontendKind::kNone:
      return "none";
    case FrontendKind::kUblk:
      return "ublk";
    case FrontendKind::kFuse:
      return "fuse";
    case FrontendKind::kAuto:
      return "auto";
  }
  return "?";
}

bool parse_frontend_kind(const std::string& text, FrontendKind* out) {
  static constexpr FrontendKind kKinds[] = {FrontendKind::kNone, FrontendKind::kUblk, FrontendKind::kFuse,
                                            FrontendKind::kAuto};
  for (FrontendKind k : kKinds) {
    if (text == frontend_kind_name(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

FrontendKind resolve_frontend_kind(FrontendKind kind) {
  if (kind != FrontendKind::kAuto) return kind;
  std::string why;
  return ublk_available(&why) ? FrontendKind::kUblk : FrontendKind::kFuse;
}

Result<std::unique_ptr<Frontend>> start_frontend(FrontendKind kind, HostController* hc,
                                                 const FrontendOptions& options) {
  switch (resolve_frontend_kind(kind)) {
    case FrontendKind::kNone:
      return std::unique_ptr<Frontend>();
    case FrontendKind::kUblk: {
      std::string why;
      if (!ublk_available(&why)) return Status::error(why, ENODEV);
      return start_ublk_frontend(hc, options);
    }
    case FrontendKind::kFuse:
      return start_fuse_frontend(hc, options);
    case FrontendKind::kAuto:
      break;
  }
  return Status::error("unknown frontend kind");
}

}  // namespace nvmeoe
