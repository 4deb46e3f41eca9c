// Writes N distinct pixel-art avatar faces as SVG files: face-00000.svg … (seeded, so the set is reproducible).
// usage: node dicebear-faces.mjs <node_modules folder> <out folder> <count>
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, out, countText] = process.argv.slice(2);
const count = Number(countText);
if (!modules || !out || !(count > 0)) {
  console.error('usage: node dicebear-faces.mjs <node_modules folder> <out folder> <count>');
  process.exit(2);
}
const { createAvatar } = await import(pathToFileURL(join(modules, '@dicebear/core/lib/index.js')).href);
const pixelArt = await import(pathToFileURL(join(modules, '@dicebear/pixel-art/lib/index.js')).href);

mkdirSync(out, { recursive: true });
const seen = new Set();
let written = 0;
for (let i = 0; written < count && i < count * 4; i++) {
  const svg = createAvatar(pixelArt, { seed: `diffusionlab-face-${i}` }).toString();
  if (seen.has(svg)) continue; // distinct faces only
  seen.add(svg);
  writeFileSync(join(out, `face-${String(written).padStart(5, '0')}.svg`), svg);
  written++;
}
console.log(`wrote ${written} distinct faces to ${out}`);
