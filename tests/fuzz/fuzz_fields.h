// Shared by the fuzz targets that feed multipart form fields: splits fuzz bytes written as
// "name\0value\0name\0value..." (from `at` on) into the map cpp-httplib hands to the routes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include <httplib.h>

namespace labhouse::fuzz {

inline httplib::MultipartFormDataMap SplitFields(std::string_view input, std::size_t at = 0) {
    httplib::MultipartFormDataMap files;
    while (at < input.size() && files.size() < 32) {
        const auto name_end = std::min(input.find('\0', at), input.size());
        const auto value_start = std::min(name_end + 1, input.size());
        const auto value_end = std::min(input.find('\0', value_start), input.size());
        const std::string name(input.substr(at, name_end - at));
        const std::string value(input.substr(value_start, value_end - value_start));
        files.emplace(name, httplib::MultipartFormData{name, value, "", ""});
        at = value_end + 1;
    }
    return files;
}

}  // namespace labhouse::fuzz
