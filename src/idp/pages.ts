// The provider's few HTML pages (device sign-in, authorize sign-in, messages): one small
// template, no script, no external asset. Every value is escaped; the Content Security
// Policy allows only the inline style below (by its hash) and form posts to this origin
// (and, for the authorize page, to where the browser is sent next).
import { createHash } from 'node:crypto';

// One style sheet, its longest rule split in two to keep the lines short: the text (and its hash) is the joined whole.
const STYLE =
  `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #f2f2f2; --card: #fff; --muted: #555; --accent: #0067b8; --error: #a4262c; }
@media (prefers-color-scheme: dark) { :root { --fg: #f2f2f2; --bg: #1b1b1b; --card: #2b2b2b; --muted: #c8c8c8; --accent: #4cc2ff; --error: #ff99a4; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg); ` +
  `font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { width: min(440px, 100% - 2rem); background: var(--card); padding: 2.5rem; box-shadow: 0 2px 6px rgb(0 0 0 / 20%); }
.brand { margin: 0 0 1rem; color: var(--muted); font-size: .875rem; }
h1 { margin: 0 0 .75rem; font-size: 1.5rem; font-weight: 600; }
p { margin: 0 0 1rem; }
label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
input { width: 100%; padding: .5rem; font: inherit; color: inherit; background: transparent; border: 1px solid var(--muted); }
input:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
button { margin-top: 1.5rem; padding: .5rem 2rem; font: inherit; font-weight: 600; color: #fff; background: #0067b8; border: 0; cursor: pointer; }
.error { color: var(--error); font-weight: 600; }
`;
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Field {
  readonly name: string;
  readonly label: string;
  readonly type: 'text' | 'password';
  readonly value?: string;
  readonly autocomplete: string;
  readonly autofocus?: boolean;
  /** Extra attributes, already safe (constants only). */
  readonly attributes?: string;
}

export interface Page {
  readonly title: string;
  /** Small print above the heading: the tenant. */
  readonly brand: string;
  readonly heading: string;
  readonly paragraphs?: readonly string[];
  readonly error?: string;
  readonly form?: {
    readonly action: string;
    readonly hidden: Readonly<Record<string, string>>;
    readonly fields: readonly Field[];
    readonly submit: string;
  };
}

export function renderPage(page: Page): string {
  const e = escapeHtml;
  const fields = (page.form?.fields ?? [])
    .map(
      (f) =>
        `<label for="${e(f.name)}">${e(f.label)}</label>\n` +
        `<input id="${e(f.name)}" name="${e(f.name)}" type="${f.type}" autocomplete="${e(f.autocomplete)}" required` +
        `${f.value ? ` value="${e(f.value)}"` : ''}${f.autofocus ? ' autofocus' : ''}` +
        `${page.error ? ' aria-describedby="error"' : ''}${f.attributes ? ` ${f.attributes}` : ''}>`,
    )
    .join('\n');
  const form = page.form
    ? `<form method="post" action="${e(page.form.action)}">\n${Object.entries(page.form.hidden)
        .map(([k, v]) => `<input type="hidden" name="${e(k)}" value="${e(v)}">`)
        .join('\n')}\n${fields}\n<button type="submit">${e(page.form.submit)}</button>\n</form>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main aria-labelledby="heading">
<p class="brand">${e(page.brand)}</p>
<h1 id="heading">${e(page.heading)}</h1>
${(page.paragraphs ?? []).map((p) => `<p>${e(p)}</p>`).join('\n')}
${page.error ? `<p id="error" class="error" role="alert">${e(page.error)}</p>` : ''}
${form}
</main>
</body>
</html>
`;
}

/** Headers of every page: no caching, no framing, no script, forms only to `formActions`. */
export function pageHeaders(formActions: readonly string[] = []): Record<string, string> {
  const actions = ["'self'", ...formActions.map((a) => a.replace(/[;,\s]/g, ''))].join(' ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; form-action ${actions}; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}
