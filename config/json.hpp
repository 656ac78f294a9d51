// JSON text helpers shared by config/to_json.cpp and the proxy's access log.
#pragma once

#include <string>
#include <string_view>

namespace spliceproxy::config {

// Appends `text` as a JSON string: quotes, backslashes and control characters escaped (\n, \r,
// \t short, others \u00XX). Well-formed UTF-8 passes through; any other byte >= 0x80 (a Unix
// path's raw bytes) becomes \ufffd, so the result is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace spliceproxy::config
