#include "common/html/testing/markup_check.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm::html::testing {
namespace {

bool IsVoidElement(absl::string_view name) {
  for (absl::string_view v : {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                              "meta", "source", "track", "wbr"}) {
    if (absl::EqualsIgnoreCase(name, v)) return true;
  }
  return false;
}

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == ':' || c == '_'; }

absl::Status Fault(size_t at, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("at byte ", at, ": ", what));
}

// The entity that starts at markup[at] ('&'): &name; &#digits; or &#xhex;.
absl::Status CheckEntity(absl::string_view markup, size_t at) {
  size_t i = at + 1;
  bool numeric = i < markup.size() && markup[i] == '#';
  bool hex = false;
  if (numeric) {
    ++i;
    hex = i < markup.size() && (markup[i] == 'x' || markup[i] == 'X');
    if (hex) ++i;
  }
  const size_t start = i;
  while (i < markup.size() &&
         (numeric ? (hex ? absl::ascii_isxdigit(markup[i]) : absl::ascii_isdigit(markup[i]))
                  : absl::ascii_isalnum(markup[i]))) {
    ++i;
  }
  if (i == start || i >= markup.size() || markup[i] != ';') {
    return Fault(at, absl::StrCat("'&' that starts no entity: \"", markup.substr(at, 12), "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckWellFormed(absl::string_view markup) {
  std::vector<std::pair<std::string, size_t>> open;  // element names and where they opened
  size_t i = 0;
  while (i < markup.size()) {
    const char c = markup[i];
    if (c == '&') {
      if (absl::Status s = CheckEntity(markup, i); !s.ok()) return s;
      ++i;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    const absl::string_view rest = markup.substr(i);
    if (absl::StartsWith(rest, "<!--")) {
      const size_t end = markup.find("-->", i + 4);
      if (end == absl::string_view::npos) return Fault(i, "unterminated comment");
      i = end + 3;
      continue;
    }
    if (absl::StartsWith(rest, "<!")) {
      const size_t end = markup.find('>', i);
      if (end == absl::string_view::npos) return Fault(i, "unterminated declaration");
      i = end + 1;
      continue;
    }
    if (absl::StartsWith(rest, "</")) {
      size_t j = i + 2;
      while (j < markup.size() && IsNameChar(markup[j])) ++j;
      const absl::string_view name = markup.substr(i + 2, j - i - 2);
      while (j < markup.size() && absl::ascii_isspace(markup[j])) ++j;
      if (name.empty() || j >= markup.size() || markup[j] != '>')
        return Fault(i, "malformed end tag");
      if (open.empty()) return Fault(i, absl::StrCat("</", name, "> closes nothing"));
      if (open.back().first != name) {
        return Fault(i, absl::StrCat("</", name, "> closes <", open.back().first,
                                     "> opened at byte ", open.back().second));
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    // A start tag: name, attributes, then '>' or '/>'.
    size_t j = i + 1;
    while (j < markup.size() && IsNameChar(markup[j])) ++j;
    const std::string name(markup.substr(i + 1, j - i - 1));
    if (name.empty()) return Fault(i, "'<' that starts no tag (unescaped text?)");
    bool self_closed = false;
    while (true) {
      while (j < markup.size() && absl::ascii_isspace(markup[j])) ++j;
      if (j >= markup.size()) return Fault(i, absl::StrCat("unterminated <", name, "> tag"));
      if (markup[j] == '>') break;
      if (absl::StartsWith(markup.substr(j), "/>")) {
        self_closed = true;
        ++j;
        break;
      }
      const size_t attribute = j;
      while (j < markup.size() && !absl::ascii_isspace(markup[j]) && markup[j] != '=' &&
             markup[j] != '>' && markup[j] != '/' && markup[j] != '"' && markup[j] != '\'') {
        ++j;
      }
      if (j == attribute) return Fault(j, absl::StrCat("stray character in <", name, "> tag"));
      if (j < markup.size() && markup[j] == '=') {
        ++j;
        if (j >= markup.size() || (markup[j] != '"' && markup[j] != '\''))
          return Fault(j, absl::StrCat("unquoted attribute value in <", name, ">"));
        const char quote = markup[j];
        const size_t end = markup.find(quote, j + 1);
        if (end == absl::string_view::npos) return Fault(j, "unterminated attribute value");
        for (size_t k = j + 1; k < end; ++k) {
          if (markup[k] == '<') return Fault(k, "'<' in an attribute value");
          if (markup[k] == '&') {
            if (absl::Status s = CheckEntity(markup, k); !s.ok()) return s;
          }
        }
        j = end + 1;
      }
    }
    i = j + 1;
    if (self_closed || IsVoidElement(name)) continue;
    if (absl::EqualsIgnoreCase(name, "style") || absl::EqualsIgnoreCase(name, "script")) {
      const size_t end = markup.find(absl::StrCat("</", name), i);
      if (end == absl::string_view::npos) return Fault(i, absl::StrCat("unclosed <", name, ">"));
      i = end;
    }
    open.emplace_back(name, i);
  }
  if (!open.empty()) {
    return Fault(open.back().second, absl::StrCat("<", open.back().first, "> is never closed"));
  }
  return absl::OkStatus();
}

}  // namespace kvmfarm::html::testing
