// JSON text helpers shared by config/to_json.cpp and the proxy's access log.
#pragma once

#include <string>
#include <string_view>

namespace spliceproxy::config {

// Appends `text` as a JSON string: quotes, backslashes and control characters escaped (\n, \r,
// \t short, others \u00XX). Bytes >= 0x80 pass through: config text is UTF-8.
void append_json_string(std::string& out, std::string_view text);

}  // namespace spliceproxy::config
