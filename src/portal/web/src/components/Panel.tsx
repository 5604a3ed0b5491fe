// A side panel (a modal dialog): opens over the page from the right, full screen on a
// phone. Focus moves into it and stays there (Tab wraps); Escape or Cancel closes it, and
// focus returns to what opened it. https://www.w3.org/WAI/ARIA/apg/patterns/dialog-modal/
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { Icon } from './Icon.js';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export interface PanelProps {
  title: string;
  /** Under the title. */
  subtitle?: string;
  onClose: () => void;
  /** Where focus goes when the panel closes; default: what had focus when it opened. */
  returnFocus?: () => HTMLElement | null | undefined;
  children: ComponentChildren;
  footer: ComponentChildren;
  /** Wraps body and footer in a form (Enter submits). */
  onSubmit?: () => void;
}

export function Panel({ title, subtitle, onClose, returnFocus, children, footer, onSubmit }: PanelProps) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  const returnRef = useRef(returnFocus);
  returnRef.current = returnFocus;

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const el = ref.current!;
    const first = el.querySelector<HTMLElement>('[data-autofocus]') ?? el.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        closeRef.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const focusable = [...el.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((x) => x.offsetParent !== null || x === document.activeElement);
      if (focusable.length === 0) return;
      const firstEl = focusable[0]!;
      const lastEl = focusable[focusable.length - 1]!;
      if (e.shiftKey && document.activeElement === firstEl) {
        e.preventDefault();
        lastEl.focus();
      } else if (!e.shiftKey && document.activeElement === lastEl) {
        e.preventDefault();
        firstEl.focus();
      }
    };
    el.addEventListener('keydown', onKey);
    document.body.classList.add('has-panel');
    // Everything else on the page is inert while the panel is open: no focus, no clicks,
    // hidden from assistive technology.
    const made: HTMLElement[] = [];
    for (let node: HTMLElement | null = el.closest<HTMLElement>('.panel-layer'); node && node !== document.body; node = node.parentElement) {
      for (const sibling of node.parentElement?.children ?? []) {
        if (sibling !== node && sibling instanceof HTMLElement && !sibling.inert) {
          sibling.inert = true;
          made.push(sibling);
        }
      }
    }
    return () => {
      el.removeEventListener('keydown', onKey);
      document.body.classList.remove('has-panel');
      for (const m of made) m.inert = false;
      // After the re-render that removed the panel, so that the target exists and is enabled.
      setTimeout(() => {
        // Another panel took over (the admin picker's manual form): focus stays there.
        if (document.activeElement instanceof Element && document.activeElement.closest('[role="dialog"]')) return;
        const target = returnRef.current?.() ?? opener;
        if (target && target.isConnected) target.focus();
      }, 0);
    };
  }, []);

  const body = (
    <>
      <div class="panel-body">{children}</div>
      <div class="panel-footer">{footer}</div>
    </>
  );
  return (
    <div class="panel-layer">
      <div class="panel-backdrop" onClick={() => closeRef.current()} />
      <div class="panel" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref}>
        <div class="panel-header">
          <div>
            <h2 id={titleId}>{title}</h2>
            {subtitle ? <p class="panel-subtitle">{subtitle}</p> : null}
          </div>
          <button type="button" class="icon-button" aria-label="Close" onClick={() => closeRef.current()}>
            <Icon name="close" />
          </button>
        </div>
        {onSubmit ? (
          <form
            class="panel-form"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              onSubmit();
            }}
          >
            {body}
          </form>
        ) : (
          body
        )}
      </div>
    </div>
  );
}

/** The usual footer of a panel that is a form: the submit button, and Cancel. */
export function SubmitCancel({ submit, onCancel }: { submit: string; onCancel: () => void }) {
  return (
    <>
      <button type="submit" class="button primary">
        {submit}
      </button>
      <button type="button" class="button" onClick={onCancel}>
        Cancel
      </button>
    </>
  );
}
