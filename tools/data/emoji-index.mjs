// Every image emoji-datasource describes, with the emoji it belongs to: its own image and one per
// skin-tone variant. Shared by emoji-labels.mjs (readable names) and emoji-classes.mjs (categories).
import { readFileSync } from "node:fs";

const tones = { "1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark", "1F3FF": "dark" };

/** [{ stem, emoji, tone }] for every image in emoji.json; tone is "" for the emoji's own image. */
export function emojiImages(jsonPath) {
  const images = [];
  for (const emoji of JSON.parse(readFileSync(jsonPath, "utf8"))) {
    images.push({ stem: emoji.image.replace(/\.png$/, ""), emoji, tone: "" });
    for (const [code, variant] of Object.entries(emoji.skin_variations || {})) {
      const tone = code.split("-").map((c) => tones[c]).filter(Boolean).join(", ") || code;
      images.push({ stem: variant.image.replace(/\.png$/, ""), emoji, tone });
    }
  }
  return images;
}
