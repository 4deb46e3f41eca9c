// Writes labels.tsv (file stem <TAB> readable name) for the emoji PNGs in a gallery folder, from the
// emoji.json that emoji-datasource-google ships, so the lab's image picker says "anguished face"
// rather than "1f627". usage: node emoji-labels.mjs <emoji.json> <gallery-folder>
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emojiImages } from "./emoji-index.mjs";

const [jsonPath, folder] = process.argv.slice(2);
const sentence = (name) => name.charAt(0).toUpperCase() + name.slice(1).toLowerCase();
const names = new Map();
for (const { stem, emoji, tone } of emojiImages(jsonPath)) {
  const name = sentence(emoji.name || emoji.short_name);
  names.set(stem, tone ? `${name} (${tone} skin tone)` : name);
}
const rows = readdirSync(folder).filter((f) => f.endsWith(".png")).sort()
  .map((f) => f.replace(/\.png$/, ""))
  .filter((stem) => names.has(stem))
  .map((stem) => `${stem}\t${names.get(stem)}`);
writeFileSync(join(folder, "labels.tsv"), rows.join("\n") + "\n");
console.log(`${folder}/labels.tsv: ${rows.length} labels`);
