import { readFileSync } from 'node:fs';

const LINK_TAG = '<link rel="stylesheet" href="page.css" />';
const SCRIPT_TAG = '<script src="page.js"></script>';

/**
 * The customer page as one self-contained HTML document: the markup, stylesheet and script are
 * kept as separate source files (page/) and inlined here, so there is no build step.
 */
export function customerPageHtml(): string {
  const read = (name: string) => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');
  const html = read('index.html');
  if (!html.includes(LINK_TAG) || !html.includes(SCRIPT_TAG)) {
    throw new Error('wechat-sim: page/index.html lost its stylesheet or script placeholder');
  }
  // Replacer functions: the script is full of `$(`, which a replacement string would interpret.
  return html
    .replace(LINK_TAG, () => `<style>\n${read('page.css')}</style>`)
    .replace(SCRIPT_TAG, () => `<script>\n${read('page.js')}</script>`);
}
