// The page's sections, in the managed service's order: "Authentication methods",
// "Microsoft Entra authentication", "PostgreSQL authentication". Each shows the saved
// state with the staged changes on top (badges: Added, Removed, New password).
import type { RefObject } from 'preact';
import type { AdminRow, RoleRow, RowStatus } from '../changes.js';
import { allowsEntra, allowsNative, METHOD_LABELS, PRINCIPAL_TYPE_LABELS, type AuthMethod, type SessionExpiry } from '../types.js';
import { Icon, type IconName } from './Icon.js';
import { Menu } from './Menu.js';

const METHODS: AuthMethod[] = ['postgres', 'entra', 'both'];
const METHOD_HELP: Record<AuthMethod, string> = {
  postgres: 'Native PostgreSQL roles sign in with their passwords.',
  entra: 'Only Microsoft Entra users and applications sign in, with access tokens as passwords; citus is disabled.',
  both: 'Both native roles and Microsoft Entra principals sign in.',
};

export function MethodsSection({ value, saved, onChange }: { value: AuthMethod; saved: AuthMethod; onChange: (m: AuthMethod) => void }) {
  return (
    <section class="card" aria-labelledby="methods-heading">
      <h2 id="methods-heading">Authentication methods</h2>
      <fieldset class="radio-group">
        <legend class="visually-hidden">Authentication methods</legend>
        <div class="radio-list">
          {METHODS.map((m) => (
            <label class={`radio${value === m ? ' selected' : ''}`} key={m}>
              <input type="radio" name="methods" value={m} checked={value === m} onChange={() => onChange(m)} />
              <span>
                <span class="radio-label">
                  {METHOD_LABELS[m]}
                  {m !== saved && m === value ? <span class="badge added">Unsaved</span> : null}
                </span>
                <span class="radio-help">{METHOD_HELP[m]}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>
    </section>
  );
}

/** Whether sessions signed in with an access token end with it (`pgwarden auth set-session-expiry`). */
export function SessionExpirySection({ value, saved, onChange }: { value: SessionExpiry; saved: SessionExpiry; onChange: (v: SessionExpiry) => void }) {
  return (
    <section class="card" aria-labelledby="session-expiry-heading">
      <h2 id="session-expiry-heading">Sessions</h2>
      <label class={`radio${value === 'token' ? ' selected' : ''}`}>
        <input type="checkbox" name="session-expiry" checked={value === 'token'} onChange={(e) => onChange(e.currentTarget.checked ? 'token' : 'never')} />
        <span>
          <span class="radio-label">
            End sessions when their access token expires
            {value !== saved ? <span class="badge added">Unsaved</span> : null}
          </span>
          <span class="radio-help">
            A session signed in with a Microsoft Entra token ends when the token does; a query in flight may finish first (up to 5 minutes). Otherwise sessions
            live on, as in the managed service. Native roles are not affected.
          </span>
        </span>
      </label>
    </section>
  );
}

const STATUS_BADGE: Record<Exclude<RowStatus, 'saved'>, { text: string; cls: string }> = {
  added: { text: 'Added · unsaved', cls: 'added' },
  removed: { text: 'Removed · unsaved', cls: 'removed' },
  password: { text: 'New password · unsaved', cls: 'added' },
};

function StatusBadge({ status }: { status: RowStatus }) {
  if (status === 'saved') return null;
  const b = STATUS_BADGE[status];
  return <span class={`badge ${b.cls}`}>{b.text}</span>;
}

function rowClass(status: RowStatus): string {
  return status === 'removed' ? 'row-removed' : status === 'added' ? 'row-added' : '';
}

/** A row's name with its icon, and what is staged for it. */
function NameCell({ icon, name, status }: { icon: IconName; name: string; status: RowStatus }) {
  return (
    <>
      <span class="cell-name">
        <Icon name={icon} />
        <span class="name-text">{name}</span>
      </span>
      <StatusBadge status={status} />
    </>
  );
}

export function EntraSection({
  rows,
  method,
  onAdd,
  onRemove,
  onUndo,
  addButton,
}: {
  rows: AdminRow[];
  method: AuthMethod;
  onAdd: () => void;
  onRemove: (name: string) => void;
  onUndo: (changeId: number) => void;
  addButton: RefObject<HTMLButtonElement | null>;
}) {
  return (
    <section class="card" aria-labelledby="entra-heading">
      <div class="card-header">
        <h2 id="entra-heading">Microsoft Entra authentication</h2>
        <button type="button" class="button" ref={addButton} onClick={onAdd}>
          <Icon name="add" /> Add Microsoft Entra admins
        </button>
      </div>
      {!allowsEntra(method) ? (
        <p class="notice info">
          <Icon name="info" /> Microsoft Entra authentication is off: admins cannot sign in until you choose a method with it.
        </p>
      ) : null}
      {rows.length === 0 ? (
        <p class="empty">No Microsoft Entra admins yet. Add users or enterprise applications of the tenant as admins; they get the privileges of citus.</p>
      ) : (
        <table class="table">
          <caption class="visually-hidden">Microsoft Entra admins</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Object id</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name} class={rowClass(r.status)}>
                <th scope="row" data-label="Name">
                  <NameCell icon={r.type === 'user' ? 'user' : 'app'} name={r.name} status={r.status} />
                </th>
                <td data-label="Type">{PRINCIPAL_TYPE_LABELS[r.type]}</td>
                <td data-label="Object id" class="mono">
                  {r.objectId ?? '—'}
                  {r.issuer ? <div class="issuer">subject at {r.issuer}</div> : null}
                </td>
                <td class="actions">
                  {r.status === 'saved' ? (
                    <button type="button" class="button subtle" aria-label={`Remove ${r.name}`} onClick={() => onRemove(r.name)}>
                      <Icon name="trash" /> Remove
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="button subtle"
                      aria-label={`Undo: ${r.status === 'added' ? 'add' : 'remove'} ${r.name}`}
                      onClick={() => onUndo(r.changeId!)}
                    >
                      <Icon name="undo" /> Undo
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function RolesSection({
  rows,
  method,
  onAdd,
  onReset,
  onDelete,
  onUndo,
  addButton,
}: {
  rows: RoleRow[];
  method: AuthMethod;
  onAdd: () => void;
  onReset: (name: string, button: HTMLButtonElement) => void;
  onDelete: (name: string, button: HTMLButtonElement) => void;
  onUndo: (changeId: number) => void;
  addButton: RefObject<HTMLButtonElement | null>;
}) {
  return (
    <section class="card" aria-labelledby="roles-heading">
      <div class="card-header">
        <h2 id="roles-heading">PostgreSQL authentication</h2>
        <button type="button" class="button" ref={addButton} onClick={onAdd}>
          <Icon name="add" /> Add PostgreSQL role
        </button>
      </div>
      {!allowsNative(method) ? (
        <p class="notice warning">
          <Icon name="warning" /> PostgreSQL authentication is off: these roles, citus included, cannot sign in.
        </p>
      ) : null}
      <table class="table">
        <caption class="visually-hidden">PostgreSQL roles</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name} class={rowClass(r.status)}>
              <th scope="row" data-label="Name">
                <NameCell icon="key" name={r.name} status={r.status} />
              </th>
              <td data-label="Type">{r.builtIn ? <span class="badge builtin">Built-in</span> : 'Native role'}</td>
              <td class="actions">
                {r.status === 'removed' || r.status === 'added' || r.status === 'password' ? (
                  <button
                    type="button"
                    class="button subtle"
                    data-undo-role={r.name}
                    aria-label={`Undo: ${r.status === 'removed' ? 'delete' : r.status === 'added' ? 'add' : 'reset the password of'} ${r.name}`}
                    onClick={() => onUndo(r.changeId!)}
                  >
                    <Icon name="undo" /> Undo
                  </button>
                ) : null}
                {r.status !== 'removed' ? (
                  <Menu
                    label={`More actions for ${r.name}`}
                    items={[
                      { label: 'Reset password', icon: 'key', onSelect: (b) => onReset(r.name, b) },
                      ...(r.builtIn
                        ? []
                        : [{ label: 'Delete', icon: 'trash' as const, danger: true, onSelect: (b: HTMLButtonElement) => onDelete(r.name, b) }]),
                    ]}
                  />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
