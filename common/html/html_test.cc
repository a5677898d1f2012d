#include "common/html/html.h"

#include "gtest/gtest.h"

namespace kvmfarm::html {
namespace {

TEST(HtmlEscapeTest, EscapesMarkupCharacters) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(HtmlEscapeTest, KeepsOtherTextIncludingUtf8) {
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("Snapdragon\xE2\x84\xA2 8 Gen 3, 1.5 s"),
            "Snapdragon\xE2\x84\xA2 8 Gen 3, 1.5 s");
}

}  // namespace
}  // namespace kvmfarm::html
