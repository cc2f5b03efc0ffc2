import { crc32, deflateSync } from 'node:zlib';

export type Rgb = [number, number, number];

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length, 0);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed), 0);
  return Buffer.concat([len, typed, crc]);
}

/** A truecolour PNG whose pixels come from `paint(x, y)`; used for card covers and tests. */
export function makePng(
  width: number,
  height: number,
  paint: (x: number, y: number) => Rgb,
): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    rows[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      rows[o++] = r;
      rows[o++] = g;
      rows[o++] = b;
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
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 104×83 cover (the 520×416 aspect) in a soft two-tone gradient. */
export function makeCardThumb(seed = 0): Buffer {
  const hue = seed % 3;
  return makePng(104, 83, (x, y) => {
    const t = Math.round((x + y) * 0.6);
    const base: Rgb = [250 - t, 200 + (t >> 2), 120 + t];
    return [base[hue % 3]!, base[(hue + 1) % 3]!, base[(hue + 2) % 3]!];
  });
}
