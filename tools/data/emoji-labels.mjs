// Writes labels.tsv (file stem <TAB> readable name) for the emoji PNGs in a gallery folder, from the
// emoji.json that emoji-datasource-google ships, so the lab's image picker says "anguished face"
// rather than "1f627". usage: node emoji-labels.mjs <emoji.json> <gallery-folder>
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [jsonPath, folder] = process.argv.slice(2);
const tones = { "1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark", "1F3FF": "dark" };
const sentence = (name) => name.charAt(0).toUpperCase() + name.slice(1).toLowerCase();
const names = new Map();
for (const emoji of JSON.parse(readFileSync(jsonPath, "utf8"))) {
  const name = emoji.name || emoji.short_name;
  names.set(emoji.image.replace(/\.png$/, ""), sentence(name));
  for (const [code, variant] of Object.entries(emoji.skin_variations || {})) {
    const tone = code.split("-").map((c) => tones[c]).filter(Boolean).join(", ");
    names.set(variant.image.replace(/\.png$/, ""), `${sentence(name)} (${tone || code} skin tone)`);
  }
}
const rows = readdirSync(folder).filter((f) => f.endsWith(".png")).sort()
  .map((f) => f.replace(/\.png$/, ""))
  .filter((stem) => names.has(stem))
  .map((stem) => `${stem}\t${names.get(stem)}`);
writeFileSync(join(folder, "labels.tsv"), rows.join("\n") + "\n");
console.log(`${folder}/labels.tsv: ${rows.length} labels`);
