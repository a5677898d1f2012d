// -----------------------------------------------------------------------------
// File: html/html.h
// -----------------------------------------------------------------------------
//
// What every page kvmfarm writes (`farmctl report`, the controller's dashboard)
// needs to put text in HTML or inline SVG: device names, metric names and reasons
// come from devices and operators, so they are escaped where they meet markup.
//
// Example:
//
//   absl::StrAppend(&html, "<li>", HtmlEscape(reason), "</li>");
#ifndef KVMFARM_COMMON_HTML_HTML_H_
#define KVMFARM_COMMON_HTML_HTML_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kvmfarm::html {

// `text` made safe for HTML (and SVG/XML) element content and quoted attribute
// values: & < > " ' become entities; everything else is kept as it is.
std::string HtmlEscape(absl::string_view text);

}  // namespace kvmfarm::html

#endif  // KVMFARM_COMMON_HTML_HTML_H_
