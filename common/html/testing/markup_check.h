// -----------------------------------------------------------------------------
// File: html/testing/markup_check.h
// -----------------------------------------------------------------------------
//
// A test's check that generated HTML or inline SVG is well-formed enough that a
// browser and an XML parser read it the same way. Not a validator (no libxml2 in
// the build): it checks what string-built markup gets wrong.
//  * every element is closed, in order (HTML's void elements, <meta> and the
//    like, need no end tag; <x/> closes itself);
//  * attribute values are quoted and hold no '<';
//  * every '&' starts an entity (&amp; &#39; ...), so text was escaped.
// <!DOCTYPE>, comments and the contents of <style> and <script> are skipped.
//
// Example:
//
//   EXPECT_THAT(CheckWellFormed(BarChart(spec)), IsOk());
#ifndef KVMFARM_COMMON_HTML_TESTING_MARKUP_CHECK_H_
#define KVMFARM_COMMON_HTML_TESTING_MARKUP_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::html::testing {

// OK, or INVALID_ARGUMENT naming the first fault and its byte offset.
absl::Status CheckWellFormed(absl::string_view markup);

}  // namespace kvmfarm::html::testing

#endif  // KVMFARM_COMMON_HTML_TESTING_MARKUP_CHECK_H_
