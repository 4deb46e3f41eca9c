// Renders the TeX of every [data-tex] element inside a maths scope with KaTeX, served by the app
// (wwwroot-assets/lib/katex, no CDN), and keeps doing so as Blazor changes them: the elements are
// empty in Blazor's eyes, so what KaTeX puts inside them is never touched by its diffing.
//
// Two macros of the lab's:  \sym{key}{tex}  marks a symbol that explains itself (hover shows its
// title; focus or a tap writes its meaning into the scope's note), and  \hl{tex}  highlights the
// term a solver approximates.

let katexReady;

function load(tag, attributes) {
  return new Promise((resolve, reject) => {
    const element = document.createElement(tag);
    Object.assign(element, attributes);
    element.onload = () => resolve();
    element.onerror = () => reject(new Error(`could not load ${attributes.src ?? attributes.href}`));
    document.head.appendChild(element);
  });
}

function katex() {
  if (window.katex) return Promise.resolve(window.katex);
  // The stylesheet first, so that no formula is ever shown unstyled.
  katexReady ??= Promise.all([
    load('link', { rel: 'stylesheet', href: 'lib/katex/katex.min.css' }),
    load('script', { src: 'lib/katex/katex.min.js' }),
  ]).then(() => window.katex);
  return katexReady;
}

const trusted = new Set(['\\htmlData', '\\htmlClass']);

function options(display) {
  return {
    displayMode: display,
    throwOnError: false, // a typo in a formula shows as red source, never as a broken page
    output: 'htmlAndMathml', // MathML for screen readers, HTML for the eye
    strict: false,
    trust: context => trusted.has(context.command),
    macros: { '\\sym': '\\htmlData{sym=#1}{#2}', '\\hl': '\\htmlClass{hl}{#1}' },
  };
}

function renderOne(lib, element, symbols) {
  const tex = element.getAttribute('data-tex') ?? '';
  if (element.getAttribute('data-rendered') === tex) return;
  lib.render(tex, element, options(element.getAttribute('data-display') === 'true'));
  element.setAttribute('data-rendered', tex);
  for (const symbol of element.querySelectorAll('[data-sym]')) {
    const entry = symbols[symbol.getAttribute('data-sym')];
    if (!entry) continue;
    symbol.setAttribute('title', entry.meaning);
    symbol.setAttribute('tabindex', '0');
    symbol.setAttribute('role', 'button');
    symbol.setAttribute('aria-label', `${entry.name}: ${entry.meaning}`);
  }
}

function explain(scope, symbols, target) {
  const symbol = target.closest?.('[data-sym]');
  if (!symbol || !scope.contains(symbol)) return;
  const entry = symbols[symbol.getAttribute('data-sym')];
  const note = scope.querySelector('[data-role=symbol-note]');
  if (!entry || !note) return;
  for (const other of scope.querySelectorAll('[data-sym].sym-active')) other.classList.remove('sym-active');
  for (const same of scope.querySelectorAll(`[data-sym="${CSS.escape(symbol.getAttribute('data-sym'))}"]`)) same.classList.add('sym-active');
  note.replaceChildren();
  const name = document.createElement('span');
  name.className = 'symbol-note-name';
  katexReady.then(lib => lib.render(entry.tex, name, options(false)));
  const meaning = document.createElement('span');
  meaning.textContent = ' ' + entry.meaning;
  note.append(name, meaning);
  note.hidden = false;
}

const scopes = new WeakMap();

export async function attach(scope, symbols) {
  const lib = await katex();
  const renderAll = () => {
    for (const element of scope.querySelectorAll('[data-tex]')) renderOne(lib, element, symbols);
    scope.setAttribute('data-katex', 'ready');
  };
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; renderAll(); });
  });
  observer.observe(scope, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-tex'] });
  const onExplain = event => explain(scope, symbols, event.target);
  scope.addEventListener('click', onExplain);
  scope.addEventListener('focusin', onExplain);
  scope.addEventListener('mouseover', onExplain);
  scopes.set(scope, { observer });
  renderAll();
}

export function detach(scope) {
  scopes.get(scope)?.observer.disconnect();
  scopes.delete(scope);
}
