// Writes classes.tsv (file stem <TAB> category) beside train/ and heldout/ of the emoji data set:
// emoji-datasource's categories ("Smileys & Emotion", "Food & Drink", …), which a class-conditional
// prior trains on. usage: node emoji-classes.mjs <emoji.json> <data/emoji>
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emojiImages } from "./emoji-index.mjs";

const [jsonPath, folder] = process.argv.slice(2);
const categories = new Map(emojiImages(jsonPath).map(({ stem, emoji }) => [stem, emoji.category]));
const stems = ["train", "heldout"].flatMap((split) => readdirSync(join(folder, split)))
  .filter((f) => f.endsWith(".png")).map((f) => f.replace(/\.png$/, "")).sort();
const missing = stems.filter((stem) => !categories.has(stem));
if (missing.length > 0) throw new Error(`no category in ${jsonPath} for ${missing.length} images, e.g. ${missing[0]}`);
writeFileSync(join(folder, "classes.tsv"), stems.map((stem) => `${stem}\t${categories.get(stem)}`).join("\n") + "\n");
const counts = {};
for (const stem of stems) counts[categories.get(stem)] = (counts[categories.get(stem)] || 0) + 1;
console.log(`${folder}/classes.tsv: ${stems.length} images in ${Object.keys(counts).length} categories`);
