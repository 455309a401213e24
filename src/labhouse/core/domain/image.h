// A decoded picture in memory: 8-bit RGB, rows top to bottom, no padding. Adapters decode and
// encode files; the core and the transformers only ever see this.
#pragma once

#include <cstdint>
#include <vector>

namespace labhouse {

struct Image {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;  // width * height * 3 bytes

    bool Empty() const { return width <= 0 || height <= 0; }
    std::size_t ByteSize() const { return static_cast<std::size_t>(width) * height * 3; }
    std::uint8_t* Pixel(int x, int y) { return rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3; }
    const std::uint8_t* Pixel(int x, int y) const {
        return rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3;
    }
    static Image Filled(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        Image image{width, height, {}};
        image.rgb.resize(image.ByteSize());
        for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
            image.rgb[i] = r;
            image.rgb[i + 1] = g;
            image.rgb[i + 2] = b;
        }
        return image;
    }
};

}  // namespace labhouse
