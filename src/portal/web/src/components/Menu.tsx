// The ellipsis menu "..." of a row: a menu button. Enter, Space or Arrow Down open it on the
// first item; arrows move; Escape closes it and returns focus to the button; a click
// outside or Tab closes it. https://www.w3.org/WAI/ARIA/apg/patterns/menu-button/
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { Icon, type IconName } from './Icon.js';

export interface MenuItem {
  label: string;
  icon: IconName;
  danger?: boolean;
  /** Called after the menu closed; `button` is the menu's button, for returning focus. */
  onSelect: (button: HTMLButtonElement) => void;
}

export function Menu({ label, items }: { label: string; items: MenuItem[] }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const menuId = useId();

  const itemsOf = () => [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  useEffect(() => {
    if (!open) return;
    itemsOf()[0]?.focus();
    const onPointer = (e: Event) => {
      const t = e.target as Node;
      if (!menu.current?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    document.addEventListener('mousedown', onPointer);
    document.addEventListener('touchstart', onPointer);
    return () => {
      document.removeEventListener('mousedown', onPointer);
      document.removeEventListener('touchstart', onPointer);
    };
  }, [open]);

  const onMenuKey = (e: KeyboardEvent) => {
    const all = itemsOf();
    const at = all.indexOf(document.activeElement as HTMLElement);
    const move = (i: number) => all[(i + all.length) % all.length]?.focus();
    if (e.key === 'ArrowDown') move(at + 1);
    else if (e.key === 'ArrowUp') move(at - 1);
    else if (e.key === 'Home') move(0);
    else if (e.key === 'End') move(all.length - 1);
    else if (e.key === 'Escape') close(true);
    else if (e.key === 'Tab') close(false);
    else return;
    if (e.key !== 'Tab') e.preventDefault();
    e.stopPropagation();
  };

  const choose = (item: MenuItem) => {
    setOpen(false);
    button.current!.focus();
    item.onSelect(button.current!);
  };

  return (
    <div class="menu-anchor">
      <button
        type="button"
        class="icon-button"
        ref={button}
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' && !open) {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        <Icon name="more" />
      </button>
      {open ? (
        <div class="menu" role="menu" id={menuId} aria-label={label} ref={menu} onKeyDown={onMenuKey}>
          {items.map((item) => (
            <button type="button" role="menuitem" tabIndex={-1} class={item.danger ? 'danger' : ''} onClick={() => choose(item)}>
              <Icon name={item.icon} />
              {item.label}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
