// The toolbar (Save, Discard, Refresh), the summary of what Save will do, and what Save
// did, per change and per node.
import type { RefObject } from 'preact';
import { describe, type Change, type Notice } from '../changes.js';
import type { NodeOutcome } from '../types.js';
import { Icon } from './Icon.js';

export function Toolbar({
  count,
  saving,
  blocked,
  onSave,
  onDiscard,
  onRefresh,
}: {
  count: number;
  saving: boolean;
  blocked: boolean;
  onSave: () => void;
  onDiscard: () => void;
  onRefresh: () => void;
}) {
  return (
    <div
      class="toolbar"
      role="toolbar"
      aria-label="Authentication"
      onKeyDown={(e) => {
        // Arrow keys move between the toolbar's buttons (each is also reachable with Tab).
        if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
        const buttons = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLButtonElement>('button:not(:disabled)')];
        const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
        if (at < 0) return;
        e.preventDefault();
        buttons[(at + (e.key === 'ArrowRight' ? 1 : -1) + buttons.length) % buttons.length]?.focus();
      }}
    >
      <button type="button" class="toolbar-button primary" disabled={count === 0 || saving || blocked} onClick={onSave}>
        <Icon name="save" /> {saving ? 'Saving…' : 'Save'}
      </button>
      <button type="button" class="toolbar-button" disabled={count === 0 || saving} onClick={onDiscard}>
        <Icon name="discard" /> Discard
      </button>
      <button type="button" class="toolbar-button" disabled={saving} onClick={onRefresh}>
        <Icon name="refresh" /> Refresh
      </button>
      <span class="toolbar-status" aria-live="polite">
        {count === 0 ? 'No unsaved changes' : `${count} unsaved ${count === 1 ? 'change' : 'changes'}`}
      </span>
    </div>
  );
}

export function PendingSummary({ changes, notices, onUndo }: { changes: Change[]; notices: Notice[]; onUndo: (id: number) => void }) {
  if (changes.length === 0) return null;
  return (
    <section class="summary" aria-labelledby="summary-heading">
      <h2 id="summary-heading">Unsaved changes</h2>
      <p class="muted small">Select Save in the toolbar to apply them together, on the coordinator and every worker.</p>
      <ol class="change-list">
        {changes.map((c) => (
          <li key={c.id}>
            <span>{describe(c)}</span>
            <button type="button" class="button subtle" aria-label={`Undo: ${describe(c)}`} onClick={() => onUndo(c.id)}>
              <Icon name="undo" /> Undo
            </button>
          </li>
        ))}
      </ol>
      {notices.map((n) => (
        <p class={`notice ${n.level}`} role={n.level === 'error' ? 'alert' : undefined}>
          <Icon name={n.level === 'error' ? 'warning' : 'info'} /> {n.text}
        </p>
      ))}
    </section>
  );
}

export interface ChangeOutcome {
  readonly id: number;
  readonly title: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly nodes?: NodeOutcome[];
}

export function SaveResults({
  outcomes,
  onDismiss,
  headingRef,
}: {
  outcomes: ChangeOutcome[];
  onDismiss: () => void;
  headingRef: RefObject<HTMLHeadingElement | null>;
}) {
  const failed = outcomes.filter((o) => !o.ok || o.nodes?.some((n) => !n.ok)).length;
  return (
    <section class={`results-card ${failed ? 'has-failures' : 'all-ok'}`} aria-labelledby="results-heading">
      <div class="card-header">
        <h2 id="results-heading" tabIndex={-1} ref={headingRef}>
          {failed === 0
            ? `Saved: ${outcomes.length} ${outcomes.length === 1 ? 'change' : 'changes'} applied on every node`
            : `Saved with problems: ${failed} of ${outcomes.length} ${outcomes.length === 1 ? 'change' : 'changes'} need attention`}
        </h2>
        <button type="button" class="icon-button" aria-label="Dismiss the results" onClick={onDismiss}>
          <Icon name="close" />
        </button>
      </div>
      <ul class="outcomes">
        {outcomes.map((o) => (
          <li key={o.id} class={o.ok ? 'ok' : 'bad'}>
            <div class="outcome-title">
              <Icon name={o.ok ? 'check' : 'cross'} />
              <span>{o.title}</span>
            </div>
            {o.error ? <p class="inline-error">{o.error} The change stays unsaved; fix it, or undo it.</p> : null}
            {o.ok ? (
              <ul class="node-chips" aria-label="Nodes">
                <li class="chip ok">
                  <Icon name="check" /> coordinator
                </li>
                {(o.nodes ?? []).map((n) => (
                  <li class={`chip ${n.ok ? 'ok' : 'bad'}`} key={n.node}>
                    <Icon name={n.ok ? 'check' : 'cross'} /> {n.node}
                    {n.error ? <span class="chip-error">: {n.error}</span> : null}
                  </li>
                ))}
              </ul>
            ) : null}
          </li>
        ))}
      </ul>
      {outcomes.some((o) => o.nodes?.some((n) => !n.ok)) ? (
        <p class="muted small">The coordinator has each change marked ✓; a worker marked ✗ missed it, for the reason shown.</p>
      ) : null}
    </section>
  );
}
