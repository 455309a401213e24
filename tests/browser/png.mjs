// A tiny PNG encoder, so the tests draw their own photos instead of downloading any.
import zlib from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// Encodes an RGB image; pixel(x, y) returns [r, g, b] in 0..255.
export function encodePng(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

// A small landscape: sky gradient, sun, hills, a lake and a house, with a little texture so the
// photo effects have edges and detail to work on.
export function landscapePng(width = 640, height = 480) {
  const sx = width / 640;
  const sy = height / 480;
  return encodePng(width, height, (px, py) => {
    const x = px / sx;
    const y = py / sy;
    const noise = ((Math.sin(px * 12.9898 + py * 78.233) * 43758.5453) % 1) * 14;
    let r;
    let g;
    let b;
    const t = y / 480;
    r = 120 + 120 * t;
    g = 170 + 50 * t;
    b = 250 - 40 * t;
    const sun = Math.hypot(x - 480, y - 110);
    if (sun < 48) [r, g, b] = [255, 214 - sun, 90];
    else if (sun < 70) {
      const k = (70 - sun) / 22;
      r += (255 - r) * k * 0.6;
      g += (220 - g) * k * 0.6;
    }
    const hill1 = 300 + 40 * Math.sin(x / 70) + 20 * Math.sin(x / 23);
    const hill2 = 340 + 30 * Math.cos(x / 90 + 1);
    if (y > hill1) [r, g, b] = [70 + (y - hill1) * 0.2, 140 - (y - hill1) * 0.15, 70];
    if (y > hill2) [r, g, b] = [40, 110 + 20 * Math.sin(x / 9), 50];
    if (y > 390) {
      const wave = 6 * Math.sin(x / 11 + y / 3);
      [r, g, b] = [40 + wave, 90 + (y - 390) * 0.4 + wave, 170 + wave * 2];
    }
    // house
    if (x > 120 && x < 220 && y > 270 && y < 350) [r, g, b] = [235, 225, 205];
    if (y > 220 && y <= 270 && Math.abs(x - 170) < (y - 220) * 1.15) [r, g, b] = [190, 60, 50];
    if (x > 155 && x < 185 && y > 305 && y < 350) [r, g, b] = [110, 70, 40];
    if (((x > 130 && x < 148) || (x > 192 && x < 210)) && y > 285 && y < 303) [r, g, b] = [120, 180, 230];
    return [clamp(r + noise), clamp(g + noise), clamp(b + noise)];
  });
}
