// The lab page's own browser work (its frames are the frame player's): the address bar always
// holds the run's spec, and links are copied to the clipboard.

export function setQuery(query) {
  const url = new URL(window.location.href);
  url.search = query ? '?' + query : '';
  window.history.replaceState(window.history.state, '', url.toString());
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    window.prompt('Copy this link:', text);
  }
}
